"""Turning a Job into what the store keeps: validated fields and JSON params."""

from __future__ import annotations

import json
import math
from typing import Any, Iterator, Optional

from . import timestamps
from .errors import ParamsNotSerializable
from .jobs import Job, reference_if_unchanged
from .store import NewJob


def to_new_job(job: Job) -> NewJob:
    module, function = reference_if_unchanged(job)
    return NewJob(
        id=job.id,
        name=job.name,
        module=module,
        function=function,
        params=dumps_params(job.name, job.params),
        priority=job.priority,
        dependencies=tuple(job.dependencies),
        max_attempts=job.max_attempts,
        timeout=job.timeout,
        description=job.description,
        retry_delay=job.retry_delay,
        pass_parent_results=job.pass_parent_results,
        queue=job.queue,
        run_at=timestamps.to_epoch(job.run_at) if job.run_at is not None else None,
        created_at=job.created_at,
    )


_ENCODER = json.JSONEncoder(allow_nan=False)


def dumps_params(job_name: str, params: dict[str, Any]) -> str:
    try:
        return _ENCODER.encode(params)
    except (TypeError, ValueError):
        path, value = _first_bad(params, "")
        raise ParamsNotSerializable(
            f"job {job_name!r}: param {path!r} cannot be stored as JSON "
            f"({type(value).__name__} value {_short(value)}); nothing was stored"
        ) from None


def _first_bad(value: Any, path: str) -> tuple[str, Any]:
    """The path of the first value json cannot encode, e.g. 'options.when'."""
    for key, item in _children(value):
        child = f"{path}.{key}" if path and isinstance(key, str) else f"{path}[{key}]" if path else str(key)
        if _bad_leaf(item):
            return child, item
        if isinstance(item, (dict, list, tuple)):
            found = _first_bad(item, child)
            if found[0] is not None:
                return found
    return (path or None), value


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)


def _bad_leaf(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value) or math.isinf(value)
    return not isinstance(value, (dict, list, tuple, str, int, type(None)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def loads(text: Optional[str]) -> Any:
    return json.loads(text) if text is not None else None
