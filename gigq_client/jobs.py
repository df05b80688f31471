"""Job and JobStatus: what a unit of work is, and the checks made when one is defined."""

from __future__ import annotations

import math
import operator
import os
from enum import Enum
from typing import Any, Callable, Optional, Union

from . import functions, timestamps
from .errors import JobValidationError

MAX_PRIORITY = 1_000_000_000
MAX_ATTEMPTS = 1000
MAX_TIMEOUT = 366 * 24 * 3600  # a year: anything longer is a mistake, not a timeout
MAX_RETRY_DELAY = 24 * 3600


class JobStatus(str, Enum):
    """The states of a job; each compares equal to its string value."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)


FINAL_STATUSES = frozenset(s.value for s in JobStatus if s.is_final)


def new_id() -> str:
    """A random (version 4) UUID string, made without uuid.UUID's checks: a submit's hot path."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class Job:
    """A unit of work: a function to import and call with JSON params."""

    def __init__(
        self,
        name: str,
        function: Union[Callable, str],
        params: Optional[dict[str, Any]] = None,
        priority: int = 0,
        dependencies: Optional[list[str]] = None,
        max_attempts: int = 3,
        timeout: float = 300,
        description: str = "",
        pass_parent_results: Optional[bool] = None,
        retry_delay: float = 0,
        queue: str = "default",
        run_at: Optional[timestamps.When] = None,
    ):
        self.id = new_id()
        self.name = name
        self.function = function
        self.params = params or {}
        self.priority = priority
        self.dependencies = list(dependencies) if isinstance(dependencies, (list, tuple)) else dependencies or []
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.description = description or ""
        self.retry_delay = retry_delay
        self.pass_parent_results = pass_parent_results
        self.queue = queue
        self.run_at = run_at
        self.created_at = timestamps.now_iso()
        self._checked = (validate(self), _settings(self))

    @property
    def function_reference(self) -> str:
        return functions.format_reference(*functions.reference_for(self.function))

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.id} {self.function_reference}>"


def reference_if_unchanged(job: Job) -> tuple[str, str]:
    """validate(job), skipped when no setting changed since the Job was made and checked
    (GigQ code may set attributes after construction, as Workflow does)."""
    checked = getattr(job, "_checked", None)
    if checked is not None and checked[1] == _settings(job):
        return checked[0]
    return validate(job)


_SCALARS = operator.attrgetter("name", "function", "priority", "max_attempts", "timeout", "retry_delay", "queue",
                               "run_at", "pass_parent_results", "description", "params", "dependencies")


def _settings(job: Job) -> tuple:
    # Containers are compared by identity and size: a params dict swapped or grown is
    # checked again; its JSON is checked at submit anyway.
    values = _SCALARS(job)
    params, dependencies = values[10], values[11]
    return (*values[:10], id(params), len(params) if isinstance(params, dict) else -1,
            id(dependencies), len(dependencies) if isinstance(dependencies, list) else -1)


def validate(job: Job) -> tuple[str, str]:
    """Check every field of a job; return its (module, function) reference."""
    try:
        reference = functions.reference_for(job.function)
    except ValueError as error:
        raise JobValidationError(f"job {job.name!r}: {error}") from None
    _check_name(job.name)
    _check_int("priority", job.priority, -MAX_PRIORITY, MAX_PRIORITY)
    _check_int("max_attempts", job.max_attempts, 1, MAX_ATTEMPTS)
    _check_seconds("timeout", job.timeout, MAX_TIMEOUT, allow_zero=False)
    _check_seconds("retry_delay", job.retry_delay, MAX_RETRY_DELAY, allow_zero=True)
    _check_params(job.params)
    _check_dependencies(job.dependencies)
    _check_queue(job.queue)
    if job.pass_parent_results not in (None, True, False):
        raise JobValidationError("pass_parent_results must be None, True or False")
    if not isinstance(job.description, str):
        raise JobValidationError("description must be a string")
    if job.run_at is not None:
        try:
            timestamps.to_epoch(job.run_at)
        except (TypeError, ValueError) as error:
            raise JobValidationError(f"run_at: {error}") from None
    return reference


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise JobValidationError(f"job name must be a non-empty string, got {name!r}")


def _check_int(field: str, value: Any, low: int, high: int) -> None:
    if type(value) is int and low <= value <= high:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobValidationError(f"{field} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise JobValidationError(f"{field} must be between {low} and {high}, got {value}")


def _check_seconds(field: str, value: Any, high: float, allow_zero: bool) -> None:
    if (type(value) is int or type(value) is float) and (0 < value <= high or (allow_zero and value == 0)):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise JobValidationError(f"{field} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or value > high:
        low = "0 or more" if allow_zero else "more than 0"
        raise JobValidationError(f"{field} must be {low} and at most {high:g} seconds, got {value}")


def _check_params(params: Any) -> None:
    if type(params) is dict and all(type(key) is str for key in params):
        return
    if not isinstance(params, dict):
        raise JobValidationError(f"params must be a dict of keyword arguments, got {type(params).__name__}")
    for key in params:
        if not isinstance(key, str):
            raise JobValidationError(f"params keys must be strings, got {key!r}")


def _check_dependencies(dependencies: Any) -> None:
    if not dependencies and type(dependencies) is list:
        return
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise JobValidationError("dependencies must be a list of job id strings")


def _check_queue(queue: Any) -> None:
    if queue == "default":
        return
    if not isinstance(queue, str) or not queue or len(queue) > 100 or "," in queue:
        raise JobValidationError(f"queue must be a non-empty name without commas, got {queue!r}")
