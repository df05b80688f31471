"""This process's pid, kept up to date across fork(): os.getpid() is a system call on every use."""

from __future__ import annotations

import os

pid = os.getpid()


def _forked() -> None:
    global pid
    pid = os.getpid()


os.register_at_fork(after_in_child=_forked)
