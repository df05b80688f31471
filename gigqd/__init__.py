"""gigqd: the GigQ daemon, a supervisor with a pool of worker processes and a watchdog."""

from gigq_client import Worker  # GigQ users wrote `from gigqd import Worker` too

__version__ = "0.1.0"

__all__ = ["Worker", "__version__"]
