"""The job commands of gigqctl, as GigQ's `gigq` had them (plus --queue, --json and wait)."""

from __future__ import annotations

import sys
from typing import Optional

import click

from gigq_client import JobQueue

from . import jobs
from .context import Context, guard, pass_context, program


@click.command()
@click.argument("function")
@click.option("--name", help="Name of the job (default: the function's name).")
@click.option("--param", "-p", "params", multiple=True, help="A parameter as key=value (JSON values are parsed).")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher runs first.")
@click.option("--max-attempts", type=int, default=3, show_default=True, help="Runs allowed, the first included.")
@click.option("--timeout", type=float, default=300, show_default=True, help="Seconds before the job is killed.")
@click.option("--description", default="", help="Free text.")
@click.option("--retry-delay", type=float, default=0, show_default=True, help="Seconds before the first retry.")
@click.option("--queue", "queue_name", default="default", show_default=True, help="Named queue.")
@pass_context
def submit(ctx: Context, function, name, params, priority, max_attempts, timeout, description, retry_delay, queue_name):
    """Submit FUNCTION (module.function or module:function) as a job."""
    queue = guard(lambda: JobQueue(ctx.db))  # as GigQ did, submitting creates the database
    job_id = guard(lambda: jobs.submit(
        queue, function, name, jobs.parse_params(params), priority=priority, max_attempts=max_attempts,
        timeout=timeout, description=description, retry_delay=retry_delay, queue=queue_name))
    click.echo(f"Job submitted: {job_id}")


@click.command(name="list")
@click.option("--status", "status_name", help="Only jobs in this status.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many jobs.")
@click.option("--queue", "queue_name", help="Only jobs of this queue.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def list_command(ctx: Context, status_name: Optional[str], limit: int, queue_name: Optional[str], as_json: bool):
    """List jobs, newest first."""
    click.echo(guard(lambda: jobs.list_jobs(ctx.queue(), status_name, limit, queue_name, as_json)))


@click.command()
@click.argument("job_id")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a running job to stop.")
@pass_context
def cancel(ctx: Context, job_id: str, timeout: float):
    """Cancel a job: a pending one at once, a running one by having the daemon kill it."""
    click.echo(guard(lambda: jobs.cancel(ctx.queue(), ctx.target, job_id, timeout)))


@click.command()
@click.argument("job_id")
@pass_context
def requeue(ctx: Context, job_id: str):
    """Send a failed, timed-out or cancelled job back to pending, attempts reset."""
    queue = guard(ctx.queue)
    if not guard(lambda: queue.requeue_job(job_id)):
        state = queue.get_status(job_id)
        what = f"it is {state['status']}" if state["exists"] else "no such job"
        click.echo(f"{program()}: could not requeue job {job_id}: {what}", err=True)
        sys.exit(1)
    click.echo(f"Job {job_id} requeued.")


@click.command()
@click.option("--before", type=float, help="Only jobs finished more than this many days ago.")
@pass_context
def clear(ctx: Context, before: Optional[float]):
    """Delete completed and cancelled jobs."""
    click.echo(guard(lambda: jobs.clear(ctx.queue(), before)))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def stats(ctx: Context, as_json: bool):
    """Number of jobs in each status."""
    click.echo(guard(lambda: jobs.stats(ctx.queue(), as_json)))


@click.command()
@click.option("--once", is_flag=True, help="Run one job, if any, and exit.")
@click.option("--worker-id", help="Worker id (generated if not given).")
@click.option("--polling-interval", type=float, default=5, show_default=True, help="Seconds between looks for jobs.")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Worker processes of the gigqd it runs.")
@pass_context
def worker(ctx: Context, once: bool, worker_id, polling_interval: float, concurrency: int):
    """Run jobs in the foreground (GigQ's `gigq worker`): a gigqd until Ctrl-C, or one job here with --once."""
    click.echo(guard(lambda: jobs.run_worker(ctx.db, once, worker_id, polling_interval, concurrency)))


@click.command()
@click.argument("job_id")
@click.option("--timeout", type=float, help="Give up after this many seconds.")
@pass_context
def wait(ctx: Context, job_id: str, timeout: Optional[float]):
    """Wait until a job finishes (progress on a terminal); exit 0 if it completed."""
    completed, line = guard(lambda: jobs.wait(ctx.queue(), job_id, timeout))
    click.echo(line)
    sys.exit(0 if completed else 1)



COMMANDS = [submit, list_command, cancel, requeue, clear, stats, worker, wait]
