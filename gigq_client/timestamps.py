"""Timestamps: epoch seconds inside, ISO 8601 UTC strings at the API."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Union

When = Union[datetime, float, int, str]


_SECOND: tuple[int, str] = (-1, "")  # the last second formatted: most calls fall in the same one


def iso(epoch: float) -> str:
    """ISO 8601 in UTC with microseconds, like datetime.isoformat, for a fraction of the cost."""
    global _SECOND
    second = int(epoch)
    if epoch < 0:
        return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return "%s.%06d+00:00" % (cached[1], (epoch - second) * 1_000_000)  # %d truncates, as int() did


def now_iso() -> str:
    return iso(time.time())


def to_epoch(value: When) -> float:
    """Accept a datetime (naive means local time), epoch seconds or an ISO string."""
    if isinstance(value, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if isinstance(value, datetime):
        return value.timestamp()  # naive datetimes are taken as local time
    raise TypeError(f"expected a datetime, epoch seconds or ISO string, got {type(value).__name__}")

