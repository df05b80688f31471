"""Job functions used by the tests (workers import them by name)."""

from __future__ import annotations

import os
import time


def add(a, b):
    return a + b


def echo(**kwargs):
    return kwargs


def noop():
    return None


def fail(message="boom"):
    raise RuntimeError(message)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def combine(parent_results):
    return sorted(v for v in parent_results.values() if v is not None)


def pid():
    return os.getpid()


class Holder:
    def method(self):
        return 1


def make_closure():
    def inner():
        return 1

    return inner
