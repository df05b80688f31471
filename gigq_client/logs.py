"""Opt-in logging for applications (GigQ's setup_logging); importing configures nothing."""

from __future__ import annotations

import logging

logger = logging.getLogger("gigq_client")
logger.addHandler(logging.NullHandler())


def setup_logging(level: int = logging.INFO) -> None:
    """Send gigq_client's log records to stderr at `level`."""
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    logger.addHandler(handler)
