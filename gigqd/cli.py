"""`gigqd`: run the daemon in the foreground; `gigqd check`: validate a config file."""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import click

from gigq_client import GigqError

from . import config, database, files, logs, processes, sharing
from .settings import SETTINGS, Settings

LOG_FORMATS = ["auto", "json", "console"]
LOG_LEVELS = ["debug", "info", "warning", "error"]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file (see config/gigqd.toml).")
@click.option("--db", help=SETTINGS["db"].metadata["help"])
@click.option("--workers", type=int, help=SETTINGS["workers"].metadata["help"])
@click.option("--queues", help="Comma-separated queues to serve (default: all).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), help=SETTINGS["log_format"].metadata["help"])
@click.option("--log-level", type=click.Choice(LOG_LEVELS), help=SETTINGS["log_level"].metadata["help"])
@click.option("--poll-interval", type=float, help=SETTINGS["poll_interval"].metadata["help"])
@click.option("--pid-file", help=SETTINGS["pid_file"].metadata["help"])
@click.option("--stop-with-parent", "parent_pid", type=int, metavar="PID",
              help="Stop gracefully when process PID, which started gigqd, ends (gigq_client.Worker sets it).")
@click.version_option(package_name="gigqd")
@click.pass_context
def main(ctx: click.Context, config_path: Optional[str], parent_pid: Optional[int], **flags: Any) -> None:
    """Run the GigQ daemon in the foreground: a supervisor and its pool of workers.

    Command line beats environment (GIGQD_*), which beats the config file, which
    beats the defaults. TERM/INT stop gracefully, QUIT at once, HUP reloads the
    config, TTIN/TTOU add or remove a worker.
    """
    if ctx.invoked_subcommand is not None:
        return
    overrides = _overrides(flags)
    settings = _load_or_exit(config_path, overrides)
    _exit_if_shared(settings)
    stream = files.open_private(settings.log_file) if settings.log_file else sys.stderr
    logs.configure(settings.log_format, settings.log_level, stream)
    for warning in config.warnings_for(settings):
        logs.get_logger().warning("config_warned", warning=warning)
    if parent_pid is not None and not processes.term_when_parent_exits(parent_pid):
        logs.get_logger().info("parent_ended", parent_pid=parent_pid)
        sys.exit(0)
    _import_from_current_directory()
    from .supervisor.loop import Supervisor

    try:
        code = Supervisor(settings, config_path, overrides).run()
    except GigqError as error:
        click.echo(f"gigqd: {error}", err=True)
        sys.exit(1)
    sys.exit(code)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="The file to check.")
def check(config_path: str) -> None:
    """Validate a config file: list every error and exit non-zero, starting nothing."""
    settings = _load_or_exit(config_path, {})
    _exit_if_shared(settings)
    for warning in config.warnings_for(settings):
        click.echo(f"warning: {warning}")
    click.echo(f"{config_path}: OK (db {database.shown(settings.db)}, {settings.workers} workers)")


def _import_from_current_directory() -> None:
    """Job modules next to where gigqd is started import without PYTHONPATH, as with `python -m`."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def _exit_if_shared(settings: Settings) -> None:
    """Refuse "*" when others can write the database (the settings alone were checked by load)."""
    refused = sharing.refusal(settings)
    if refused:
        click.echo(f"gigqd: {refused}", err=True)
        sys.exit(2)


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    overrides = {name: value for name, value in flags.items() if value is not None}
    if "queues" in overrides:
        overrides["queues"] = [q.strip() for q in overrides["queues"].split(",") if q.strip()]
    return overrides


def _load_or_exit(config_path: Optional[str], overrides: dict[str, Any]):
    try:
        return config.load(config_path, overrides)
    except config.ConfigError as error:
        click.echo(f"gigqd: {error}", err=True)
        sys.exit(2)
