"""gigqd: the GigQ daemon, a supervisor with a pool of worker processes and a watchdog."""

from .embedded import Worker

__all__ = ["Worker"]
