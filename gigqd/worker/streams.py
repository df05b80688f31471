"""Standard streams a job may have closed or redirected, put back before the next job."""

from __future__ import annotations

import io
import os
import sys


class StandardStreams:
    def __init__(self) -> None:
        self._saved = {fd: os.dup(fd) for fd in (1, 2)}
        self._objects = {1: sys.stdout, 2: sys.stderr}

    def restore(self) -> None:
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # undoes os.close(1) and os.dup2(some_file, 2) alike
        if sys.stdout is not self._objects[1] or sys.stdout.closed:
            sys.stdout = self._objects[1] = _reopened(self._objects[1], 1)
        if sys.stderr is not self._objects[2] or sys.stderr.closed:
            sys.stderr = self._objects[2] = _reopened(self._objects[2], 2)


def _reopened(original, fd: int):
    if original is not None and not original.closed:
        return original  # the job swapped sys.stdout for another object: put ours back
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, line_buffering=True, errors="backslashreplace")
