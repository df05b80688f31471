"""Whether others can write the database or reach the socket: where allowed_modules "*" is refused.

Whoever can write a job row names the function a worker runs, as the daemon's
user. With "*" that is any function of any installed package, so "*" is only
for a database that the daemon's user alone can write.
"""

from __future__ import annotations

import os
import pwd
import stat
from typing import Optional

from gigq_client.store import is_postgres_url

from .settings import Settings

# The files SQLite and gigqd keep next to the database; each one can carry rows.
DATABASE_FILES = ("", "-wal", "-shm", ".lock")


def refusal(settings: Settings, look_at_files: bool = True) -> Optional[str]:
    """The one line that refuses this configuration, or None."""
    if "*" not in settings.allowed_modules:
        return None
    reason = settings_share(settings) or (files_share(settings.db) if look_at_files else None)
    if reason is None:
        return None
    return (f'allowed_modules: "*" is refused while {reason}: whoever can write to the database could make '
            "workers run any function as this user; list your job modules in allowed_modules instead")


def settings_share(settings: Settings) -> Optional[str]:
    if settings.socket_group:
        return f"socket_group {settings.socket_group!r} shares the database and the control socket with that group"
    return None


def files_share(db: str) -> Optional[str]:
    """Why the database is open to other users: a server is, by nature; a SQLite file by its
    files' and its directory's owners and modes."""
    if is_postgres_url(db):
        return "the database is on a PostgreSQL server, where every role that can write its tables can submit jobs"
    db = os.path.abspath(db)
    for suffix in DATABASE_FILES:
        reason = _shared_file(db + suffix)
        if reason:
            return reason
    return _shared_directory(os.path.dirname(db))


def _shared_file(path: str) -> Optional[str]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if info.st_uid != os.geteuid():
        return f"{path} belongs to user {_user(info.st_uid)}"
    if info.st_mode & 0o022:
        return f"{path} is writable by {_who(info.st_mode)} (mode {stat.S_IMODE(info.st_mode):#o})"
    return None


def _shared_directory(path: str) -> Optional[str]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if info.st_uid not in (os.geteuid(), 0):
        return f"its directory {path} belongs to user {_user(info.st_uid)}"
    # In a sticky directory (/tmp) others may add files but not replace ours.
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return f"its directory {path} is writable by {_who(info.st_mode)} (mode {stat.S_IMODE(info.st_mode):#o})"
    return None


def _who(mode: int) -> str:
    return "its group" if not mode & 0o002 else "every user"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
