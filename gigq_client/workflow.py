"""Workflow and the @task decorator: jobs defined together, submitted together."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from .jobs import Job

if TYPE_CHECKING:
    from .queue import JobQueue

_TASK_OPTIONS = frozenset({"name", "priority", "max_attempts", "timeout", "description", "retry_delay", "queue"})
_TASK_DEFAULTS = {
    "priority": 0, "max_attempts": 3, "timeout": 300, "description": "", "retry_delay": 0, "queue": "default",
}


class Workflow:
    """A named group of jobs with dependencies between them, submitted all or none."""

    def __init__(self, name: str):
        self.name = name
        self.jobs: list[Job] = []
        self.job_map: dict[str, Job] = {}

    def add_job(self, job: Job, depends_on: Optional[list[Job]] = None) -> Job:
        """Add a job that runs after every job in `depends_on` has completed."""
        if depends_on:
            job.dependencies = [parent.id for parent in depends_on]
        self.jobs.append(job)
        self.job_map[job.id] = job
        return job

    def add_task(
        self,
        decorated_fn: "TaskWrapper",
        params: Optional[dict[str, Any]] = None,
        depends_on: Optional[list[Job]] = None,
        pass_parent_results: Optional[bool] = None,
    ) -> Job:
        """Add a @task function as a job of this workflow."""
        if not isinstance(decorated_fn, TaskWrapper):
            raise TypeError("add_task() requires a @task-decorated function; use add_job() for a Job")
        job = decorated_fn.to_job(**(params or {}))
        if pass_parent_results is not None:
            job.pass_parent_results = pass_parent_results
        return self.add_job(job, depends_on=depends_on)

    def submit_all(self, queue: "JobQueue") -> list[str]:
        """Submit every job in one transaction: all are stored, or none is."""
        return queue.submit_many(self.jobs)


class TaskWrapper:
    """A function made submittable by @task; calling it still calls the function."""

    def __init__(self, fn: Callable, **options: Any):
        unknown = set(options) - _TASK_OPTIONS
        if unknown:
            raise TypeError(
                f"@task got unexpected option(s): {', '.join(sorted(unknown))}; "
                f"valid options are: {', '.join(sorted(_TASK_OPTIONS))}"
            )
        _refuse(fn)
        self._options = {**_TASK_DEFAULTS, "name": fn.__name__, **options}
        self.__gigq_task__ = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def to_job(self, **params: Any) -> Job:
        """A Job for this function with these params, not yet submitted."""
        return Job(function=self.__wrapped__, params=params, **self._options)

    def submit(self, queue: "JobQueue", /, **params: Any) -> str:
        """Submit this function with these params; returns the job id."""
        return queue.submit(self.to_job(**params))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(self._options.items()) if k != "name")
        return f"<TaskWrapper '{self._options['name']}' ({options})>"


def _refuse(fn: Any) -> None:
    """Refuse, with TypeError, anything a worker could not import and call by name."""
    if isinstance(fn, TaskWrapper):
        raise TypeError("@task cannot be applied twice to the same function")
    if not callable(fn):
        raise TypeError(f"@task must be applied to something callable (a module-level function), "
                        f"got {type(fn).__name__}")
    if not hasattr(fn, "__name__") or not hasattr(fn, "__module__"):
        raise TypeError(f"@task expected a named function, got {type(fn).__name__}")
    if fn.__name__ == "<lambda>":
        raise TypeError("@task cannot decorate a lambda: a worker cannot import it; use a named function")
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"@task cannot decorate async function {fn.__name__}: workers call jobs synchronously")
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"@task cannot decorate generator function {fn.__name__}: its result is not JSON")
    qualname = getattr(fn, "__qualname__", fn.__name__)
    if "<locals>" in qualname:
        raise TypeError(
            f"@task cannot decorate closure {qualname}: define it at module level so a worker can import it"
        )
    if "." in qualname or inspect.ismethod(fn):
        raise TypeError(f"@task cannot decorate method {qualname}: define it at module level so a worker can import it")


def task(fn: Optional[Callable] = None, **options: Any) -> Union[TaskWrapper, Callable[[Callable], TaskWrapper]]:
    """Make a module-level function submittable: `@task` or `@task(timeout=60, max_attempts=5)`."""
    if fn is not None:
        return TaskWrapper(fn, **options)
    return lambda function: TaskWrapper(function, **options)
