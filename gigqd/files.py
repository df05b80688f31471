"""Files gigqd creates (logs, pid files) give nothing to other users: mode 0600."""

from __future__ import annotations

import grp
import os
from typing import TextIO

PRIVATE = 0o600


def open_private(path: str, mode: str = "a") -> TextIO:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, PRIVATE), mode, buffering=1)


def write_private(path: str, text: str) -> None:
    with open_private(path, "w") as handle:
        handle.write(text)


def share_with_group(path: str, group: str) -> None:
    """Give `group` read and write on a file we own (socket_group)."""
    os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, 0o660)
