"""What every gigqctl command shares: the database, the daemon to talk to, and error handling."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional, TypeVar

import click

from gigq_client import GigqError, JobQueue

from .. import config, database
from .daemon import CtlError, Target

T = TypeVar("T")

DEFAULT_DB = "gigq.db"


class Context:
    def __init__(self, db: str, config_path: Optional[str], socket_path: Optional[str]):
        self.config_path = config_path
        settings = settings_for(config_path, {"db": db} if db else {})
        self.settings = settings
        self.db = database.location(settings.db)
        explicit = socket_path or (settings.socket_path and os.path.abspath(settings.socket_path)) or None
        self.target = Target(self.db, explicit)

    def queue(self) -> JobQueue:
        if database.not_created_yet(self.db):
            raise CtlError(f"no database at {self.db}")
        return JobQueue(self.db)


pass_context = click.make_pass_decorator(Context)


def settings_for(config_path: Optional[str], overrides: dict[str, Any]):
    try:
        return config.load(config_path, overrides)
    except config.ConfigError as error:
        raise CtlError(str(error)) from None


def guard(action: Callable[[], T]) -> T:
    """Run an action; a known failure becomes one line on stderr and exit status 1."""
    try:
        return action()
    except (CtlError, GigqError) as error:
        click.echo(f"{program()}: {error}", err=True)
        sys.exit(1)


def program() -> str:
    return os.path.basename(sys.argv[0]) or "gigqctl"
