"""`gigqctl` (and `gigq`): control a running gigqd and manage jobs, GigQ's CLI included."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import click

from .. import database
from . import daemon, job_commands, jobs, output
from .context import DEFAULT_DB, Context, guard, pass_context
from .daemon import Target


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="GIGQ_DB", help=f"Job database (default {DEFAULT_DB}; also GIGQ_DB).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="gigqd config file (for its db and socket).")
@click.option("--socket", "socket_path", help="Control socket of the daemon (default: found through the database).")
@click.version_option(package_name="gigqd")
@click.pass_context
def main(ctx: click.Context, db: Optional[str], config_path: Optional[str], socket_path: Optional[str]) -> None:
    """Control gigqd and manage jobs. GigQ's `gigq` commands all work here."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # job modules in the current directory import without PYTHONPATH
    if not db and not config_path:
        db = DEFAULT_DB
    ctx.obj = guard(lambda: Context(db, config_path, socket_path))


# daemon commands -------------------------------------------------------------
@main.command()
@click.option("--workers", type=int, help="Worker processes (default: config, else the number of CPUs).")
@click.option("--force", is_flag=True, help="Start even if a gigqd already runs on this database.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the daemon to be ready.")
@click.option("--log-file", help="Where the daemon logs (default: <db>.log).")
@click.option("--pid-file", help="Where the daemon writes its pid (default: <db>.pid).")
@pass_context
def start(ctx: Context, workers, force, timeout, log_file, pid_file) -> None:
    """Start gigqd in the background and wait until it is ready; print its pid."""
    log_file = log_file or ctx.settings.log_file or database.beside(ctx.db, ".log")
    pid_file = pid_file or ctx.settings.pid_file or database.beside(ctx.db, ".pid")
    target = Target(ctx.db, ctx.target.socket or os.path.abspath(database.control_socket(ctx.settings)))
    pid = guard(lambda: daemon.start(target, ctx.config_path, workers, force, timeout, log_file, pid_file))
    click.echo(f"gigqd started, pid {pid} (log: {log_file})")


@main.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the daemon to exit.")
@click.option("--now", is_flag=True, help="Fast stop: kill running jobs (they go back to pending).")
@pass_context
def stop(ctx: Context, timeout: float, now: bool) -> None:
    """Stop gigqd gracefully (running jobs finish) and wait until it has exited."""
    pid = guard(lambda: daemon.stop(ctx.target, now, timeout))
    click.echo(f"gigqd (pid {pid}) stopped")


@main.command()
@click.argument("workers", type=int)
@pass_context
def scale(ctx: Context, workers: int) -> None:
    """Grow or shrink the pool to WORKERS (shrinking lets busy workers finish)."""
    result = guard(lambda: daemon.call(ctx.target, "scale", workers=workers))
    click.echo(f"pool scaled to {result['workers']} workers")


@main.command()
@pass_context
def reload(ctx: Context) -> None:
    """Re-read the config and replace the workers one by one."""
    result = guard(lambda: daemon.call(ctx.target, "reload"))
    click.echo(f"reloading: {result['workers']} workers, replaced one by one")


@main.command()
@click.argument("job_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--show-params", is_flag=True, help="Show the job's parameters.")
@click.option("--show-result", is_flag=True, help="Show the job's result.")
@click.option("--show-executions", is_flag=True, help="Show every attempt.")
@pass_context
def status(ctx: Context, job_id, as_json, show_params, show_result, show_executions) -> None:
    """Without JOB_ID: the daemon and its workers. With JOB_ID: that job (GigQ's `status`)."""
    if job_id:
        click.echo(guard(lambda: jobs.show_status(ctx.queue(), job_id, as_json, params=show_params,
                                                       result=show_result, executions=show_executions)))
        return
    report, cluster = guard(lambda: daemon.cluster_status(ctx.target, ctx.queue))
    if as_json:
        click.echo(json.dumps({**(report or {}), "cluster": cluster}, indent=2))
    else:
        click.echo(output.cluster_status(report, cluster))


@main.command()
@click.argument("queue_name", required=False)
@pass_context
def pause(ctx: Context, queue_name: Optional[str]) -> None:
    """Stop claiming jobs of QUEUE (default: every queue). Running jobs finish."""
    guard(lambda: ctx.queue().pause(queue_name or "*"))
    click.echo(f"paused {queue_name or 'every queue'}")


@main.command()
@click.argument("queue_name", required=False)
@pass_context
def resume(ctx: Context, queue_name: Optional[str]) -> None:
    """Claim jobs of QUEUE again (default: undo a pause of every queue)."""
    guard(lambda: ctx.queue().resume(queue_name or "*"))
    click.echo(f"resumed {queue_name or 'every queue'}")


for _command in job_commands.COMMANDS:
    main.add_command(_command)
