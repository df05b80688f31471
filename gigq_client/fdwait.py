"""Waiting for one or a few file descriptors to become readable or writable (standard library only).

select.select() refuses descriptors numbered 1024 or more ("filedescriptor out of
range in select()"), and an application that embeds the client may well hold that
many files and sockets; poll() has no such limit, so every wait on one descriptor
(or an idle worker's two) goes through here (the supervisor's loop waits on many,
with selectors).
"""

from __future__ import annotations

import errno
import select
from typing import Optional, Sequence

_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
_WRITABLE = select.POLLOUT | select.POLLHUP | select.POLLERR


def readable(fd: int, timeout: Optional[float]) -> bool:
    """Whether fd has something to read (or has hung up) within timeout seconds; None waits for ever."""
    return _wait(fd, select.POLLIN | select.POLLPRI, _READABLE, timeout)


def readable_among(fds: Sequence[int], timeout: Optional[float]) -> list[int]:
    """Those of fds that have something to read (or have hung up) within timeout seconds."""
    ready = _poll([(fd, select.POLLIN | select.POLLPRI) for fd in fds], timeout)
    return [fd for fd, mask in ready if mask & _READABLE]


def writable(fd: int, timeout: Optional[float]) -> bool:
    """Whether fd can be written to (or has hung up) within timeout seconds; None waits for ever."""
    return _wait(fd, select.POLLOUT, _WRITABLE, timeout)


def _wait(fd: int, events: int, answers: int, timeout: Optional[float]) -> bool:
    return any(mask & answers for _, mask in _poll([(fd, events)], timeout))


def _poll(interests: Sequence[tuple[int, int]], timeout: Optional[float]) -> list[tuple[int, int]]:
    poller = select.poll()
    for fd, events in interests:
        poller.register(fd, events)
    millis = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
    ready = poller.poll(millis)
    closed = [fd for fd, mask in ready if mask & select.POLLNVAL]
    if closed:
        raise OSError(errno.EBADF, f"file descriptor {closed[0]} is not open")  # as select() would say
    return ready
