"""The retry schedule: exponential backoff with jitter, starting at the job's retry_delay."""

from __future__ import annotations

import random
from typing import Callable

MAX_BACKOFF = 3600.0
JITTER = 0.25


def backoff_delay(attempt: int, retry_delay: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first run).

    The first retry waits exactly `retry_delay`; each later one twice the one before,
    moved by up to 25% either way at random (so retries of many jobs spread out),
    and never more than an hour. A retry_delay of 0 retries at once.
    """
    if retry_delay <= 0:
        return 0.0
    base = min(MAX_BACKOFF, retry_delay * 2 ** (attempt - 1))
    if attempt <= 1:
        return base
    return min(MAX_BACKOFF, base * (1 + JITTER * (2 * rand() - 1)))
