"""The supervisor's periodic duties, each a named timer the loop runs when due."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

Duty = Callable[[], Optional[float]]
"""Does its work; returns the seconds until it is due again, or None for its usual interval."""


@dataclass
class Timer:
    name: str
    duty: Duty
    every: Callable[[], float]  # the usual interval, read after each run (settings may be reloaded)
    due: float = 0.0  # monotonic time it runs next


class Timers:
    def __init__(self) -> None:
        self._timers: dict[str, Timer] = {}

    def add(self, name: str, duty: Duty, every: Callable[[], float], first: float = 0.0) -> None:
        self._timers[name] = Timer(name, duty, every, first)

    def run_due(self, now: float) -> None:
        for timer in self._timers.values():
            if now >= timer.due:
                delay = timer.duty()
                timer.due = now + (timer.every() if delay is None else delay)

    def soon(self, name: str, now: float) -> None:
        """Run this duty on the next tick (a change made it worth looking again at once)."""
        self._timers[name].due = now

    def seconds_to_next(self, now: float) -> float:
        return max(0.0, min((t.due for t in self._timers.values()), default=now + 3600) - now)
