"""Turning a Job into what the store keeps: validated fields and JSON params."""

from __future__ import annotations

import json
import math
from typing import Any, Iterator, Optional

from . import timestamps
from .errors import ParamsNotSerializable
from .jobs import Job, validate
from .store import NewJob


def to_new_job(job: Job) -> NewJob:
    module, function = validate(job)
    run_at = job.run_at
    # Positional, in NewJob's field order: a third cheaper than keywords, once per job.
    return NewJob(
        job.id, job.name, module, function, dumps_params(job.name, job.params), job.priority,
        tuple(job.dependencies), job.max_attempts, job.timeout, job.description, job.retry_delay,
        job.pass_parent_results, job.queue, timestamps.to_epoch(run_at) if run_at is not None else None,
        job.created_at,
    )


_ENCODER = json.JSONEncoder(allow_nan=False)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# json's C encoder made once: JSONEncoder.encode builds a new one on every call, which
# was a third of submit_many's Python time. No circular-reference markers (a markers
# dict cannot be shared safely between calls): a cycle ends in RecursionError, and
# _first_bad names it. Same text as _ENCODER.encode; where the C encoder is missing,
# that is used instead.
_FAST_ENCODER = (
    json.encoder.c_make_encoder(None, _refuse, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                                False, False, False)
    if json.encoder.c_make_encoder is not None else None
)


def to_json(value: Any) -> str:
    """JSON text of value; TypeError, ValueError or RecursionError when it has none."""
    if _FAST_ENCODER is None:
        return _ENCODER.encode(value)
    return "".join(_FAST_ENCODER(value, 0))


def dumps_params(job_name: str, params: dict[str, Any]) -> str:
    try:
        return to_json(params)
    except (TypeError, ValueError, RecursionError):
        path, problem = _first_bad(params)
        path = path if len(path) <= 80 else path[:77] + "..."
        raise ParamsNotSerializable(
            f"job {job_name!r}: param {path!r} cannot be stored as JSON ({problem}); nothing was stored"
        ) from None


MAX_DEPTH = 500  # json gives up near the recursion limit (1,000 frames)


def _first_bad(params: dict[str, Any]) -> tuple[str, str]:
    """Where params cannot become JSON, e.g. 'options.when', and why. A walk with its
    own stack, so that params nested too deeply are named rather than overflowing."""
    stack: list[tuple[Any, str, tuple]] = [(params, "", ())]
    too_deep = ""
    while stack:
        value, path, outer = stack.pop()
        outer = (*outer, id(value))
        if len(outer) > MAX_DEPTH:
            too_deep = too_deep or path
            continue
        inner = []
        for key, item in _children(value):
            child = f"{path}.{key}" if path and isinstance(key, str) else f"{path}[{key!r}]" if path else str(key)
            if key is not None and not isinstance(key, (str, int, float, bool)):
                return child, f"its key is a {type(key).__name__}; JSON keys are strings"
            if id(item) in outer:
                return child, f"a {type(item).__name__} that contains itself"
            if _bad_leaf(item):
                return child, f"{type(item).__name__} value {_short(item)}"
            if isinstance(item, (dict, list, tuple)):
                inner.append((item, child, outer))
        stack.extend(reversed(inner))
    if too_deep:
        return too_deep, f"nested more than {MAX_DEPTH} levels deep"
    return "", "json refused it"


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
