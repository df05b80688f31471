"""Run a function in a forked child (under limits or another uid) and get back what it said."""

from __future__ import annotations

import os
from typing import Callable


def in_child(action: Callable[[], str]) -> str:
    """`action` runs in a fork of this process; its return value, or the exception it
    raised as "Type: message", comes back as a string. The child never returns here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_end)
        try:
            message = action()
        except BaseException as error:
            message = f"{type(error).__name__}: {error}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def drop_to_nobody() -> None:
    os.setgid(65534)
    os.setuid(65534)
