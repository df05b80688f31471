"""Job and JobStatus: what a unit of work is, and the checks made when one is defined."""

from __future__ import annotations

import array
import math
import os
import sys
import time
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


_IDS: list[str] = []  # made ahead, 256 at a time: one getrandom() instead of one per job
os.register_at_fork(after_in_child=_IDS.clear)  # a forked child must never hand out its parent's ids
_last_stamp = 0  # the last (milliseconds << 12 | sequence) handed out by this process


def new_id() -> str:
    """A time-ordered (version 7) UUID string, made without uuid.UUID's checks: a
    submit's hot path. Ids made later sort later, so a job's row and its key land at
    the right edge of the id index instead of on a random page: with random ids a
    submit into a table of 400,000 jobs ran 2.4x slower, each insert missing the cache."""
    try:
        return _IDS.pop()
    except IndexError:
        _IDS.extend(reversed(_make_ids(256)))  # popped from the end: oldest first
        return _IDS.pop()


_VARIANT_RFC_4122 = bytes(b & 0x3F | 0x80 for b in range(256))
_VERSION_7 = 0x7 << 12

# Where each of a UUID's 32 hex digits goes in its 36-character text (8-4-4-4-12).
_DIGIT_AT = [j + (j >= 8) + (j >= 12) + (j >= 16) + (j >= 20) for j in range(32)]


def _make_ids(count: int) -> list[str]:
    """count (at most 4,096) version 7 UUID strings in increasing order: 48 bits of Unix
    milliseconds, 12 bits of sequence within the millisecond (RFC 9562's method 1; a
    batch that would run over starts on the next millisecond), 62 random bits. Every
    step runs in C, one step per byte or digit position for the whole batch: formatting
    each id in Python cost as much as all the rest of a Job."""
    global _last_stamp
    first = max(time.time_ns() // 1_000_000 << 12, _last_stamp + 1)
    if (first & 0xFFF) + count > 0x1000:
        first = ((first >> 12) + 1) << 12
    _last_stamp = first + count - 1
    base = (first >> 12) << 16 | _VERSION_7 | first & 0xFFF
    stamps = array.array("Q", range(base, base + count))
    if sys.byteorder == "little":
        stamps.byteswap()
    stamp_bytes = stamps.tobytes()
    raw = bytearray(os.urandom(16 * count))
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC_4122)
    for k in range(8):
        raw[k::16] = stamp_bytes[k::8]
    digits = raw.hex().encode()
    text = bytearray(b"-" * 36 + b",") * count  # the dashes and a separator in place
    for j, at in enumerate(_DIGIT_AT):
        text[at::37] = digits[j::32]
    return text[:-1].decode().split(",")


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
        validate(self)  # again at submit: GigQ code may change attributes in between, as Workflow does

    @property
    def function_reference(self) -> str:
        return functions.format_reference(*functions.reference_for(self.function))

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.id} {self.function_reference}>"


_NUMBER = (int, float)


def _usual(job: Job) -> bool:
    """Most jobs: plain ints and floats in range, a dict of params, no dependencies,
    nothing special. One expression, checked without a call per field (a submit's hot
    path); anything else gets the full checks below, which name the problem."""
    priority, attempts, timeout, delay = job.priority, job.max_attempts, job.timeout, job.retry_delay
    return (type(priority) is int and -MAX_PRIORITY <= priority <= MAX_PRIORITY
            and type(attempts) is int and 1 <= attempts <= MAX_ATTEMPTS
            and type(timeout) in _NUMBER and 0 < timeout <= MAX_TIMEOUT
            and type(delay) in _NUMBER and 0 <= delay <= MAX_RETRY_DELAY
            and type(job.name) is str and not job.name.isspace() and job.name != ""
            and type(job.params) is dict and job.dependencies == [] and type(job.dependencies) is list
            and job.queue == "default" and job.pass_parent_results is None and type(job.description) is str
            and job.run_at is None and _string_keys(job.params))


def _string_keys(params: dict) -> bool:
    try:
        "".join(params)  # in C: a TypeError on the first key that is not a string
        return True
    except TypeError:
        return False


def validate(job: Job) -> tuple[str, str]:
    """Check every field of a job; return its (module, function) reference."""
    try:
        reference = functions.reference_for(job.function)
    except ValueError as error:
        raise JobValidationError(f"job {job.name!r}: {error}") from None
    if _usual(job):
        return reference
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
