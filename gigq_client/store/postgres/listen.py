"""The daemon's doorbell on PostgreSQL: LISTEN on a connection of its own, never blocking its loop.

The connection is driven through libpq's asynchronous calls: drain() reads what has
arrived and, after the server went away, reconnects step by step (connect_start,
then connect_poll each time the socket is ready), so a supervisor's single-threaded
loop never waits for the network. Its socket changes with each reconnection, so
the listener holds it in an epoll set of its own and hands out that set's
descriptor, which stays the same (an epoll descriptor is readable while any
socket in it is).
"""

from __future__ import annotations

import os
import select
import time
from typing import Any, Optional

from ... import fdwait
from ..base import JobListener
from . import connection

CHANNEL = "gigq_jobs"
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 10.0  # seconds between attempts, doubling
_LISTEN = f"LISTEN {CHANNEL}".encode()
_READING, _WRITING, _OK = 1, 2, 3  # libpq's PostgresPollingStatusType; 0 is FAILED


class PostgresListener(JobListener):
    """LISTENs for Store.notify_new_jobs() on its own connection, in autocommit."""

    def __init__(self, url: str, connect_timeout: float):
        psycopg = connection.driver()
        self._pq, self._errors = psycopg.pq, psycopg.Error
        self._url, self._timeout = url, max(2.0, connect_timeout)
        options = connection.network_options(url, "gigq-listener")
        self._conninfo = psycopg.conninfo.make_conninfo(url, **options).encode()
        self._poller = select.epoll()
        self._pid = os.getpid()
        self._pgconn: Optional[Any] = None
        self._watched: Optional[int] = None  # the socket in the epoll set
        self._listening = False
        self._unconfirmed = False  # LISTEN sent, its reply not yet read: notifications may still be missed
        self._deadline = 0.0  # of the connection attempt under way
        self._last_error = ""
        self._retry_at, self._backoff = 0.0, RECONNECT_FIRST
        self._connect_now()

    def fileno(self) -> int:
        return self._poller.fileno()

    def fds(self) -> list[int]:
        return [fd for fd in (self._poller.fileno(), self._watched) if fd is not None and fd >= 0]

    def drain(self) -> bool:
        if self._poller.closed:
            return False
        if self._listening:
            return self._read_notifications()
        if self._pgconn is not None:
            return self._advance()
        if time.monotonic() >= self._retry_at:
            self._start()
            return self._advance() if self._pgconn is not None else False
        return False

    def close(self) -> None:
        if self._poller.closed:
            return
        self._drop()
        self._poller.close()

    def trouble(self) -> str:
        if self._listening and not self._unconfirmed:
            return ""
        return self._last_error or "reconnecting"

    # connecting ---------------------------------------------------------------
    def _connect_now(self) -> None:
        """The first connection, waited for until LISTEN took effect: a notification sent
        once this returns is never missed, and an error at start-up is reported, not retried."""
        self._start()
        while self._pgconn is not None and not self._listening:
            state = self._pgconn.connect_poll()
            if state == 0 or time.monotonic() > self._deadline:
                self._fail_to_connect()
            if state == _OK:
                self._begin_listening()
            else:
                wait = fdwait.readable if state == _READING else fdwait.writable
                wait(self._socket(), max(0.0, self._deadline - time.monotonic()))
        while self._unconfirmed and self._pgconn is not None:
            fdwait.readable(self._socket(), max(0.0, self._deadline - time.monotonic()))
            self._read_notifications()
            if self._unconfirmed and time.monotonic() > self._deadline:
                self._fail_to_connect()
        if self._pgconn is None:
            raise connection.connect_error_text(self._last_error or "the server closed the connection", self._url)

    def _fail_to_connect(self) -> None:
        message = self._pgconn.error_message.decode(errors="replace") or "timed out"
        self._drop()
        raise connection.connect_error_text(message, self._url)

    def _start(self) -> None:
        self._pgconn = self._pq.PGconn.connect_start(self._conninfo)
        self._deadline = time.monotonic() + self._timeout
        if self._pgconn.status == 1:  # CONNECTION_BAD before it began (e.g. the host name does not resolve)
            self._last_error = _one_line(self._pgconn.error_message)
            self._lost()
        else:
            self._watch(select.EPOLLOUT)

    def _advance(self) -> bool:
        """One step of a reconnection (drain() answers True once LISTEN took effect again)."""
        state = self._pgconn.connect_poll()
        if state == _OK:
            self._begin_listening()
            return False
        if state == 0 or time.monotonic() > self._deadline:
            reason = _one_line(self._pgconn.error_message) if state == 0 else "timed out"
            self._last_error = "cannot reconnect: " + reason
            self._lost()
        else:
            self._watch(select.EPOLLIN if state == _READING else select.EPOLLOUT)
        return False

    def _begin_listening(self) -> None:
        try:
            self._pgconn.send_query(_LISTEN)
        except self._errors as error:
            self._last_error = "cannot send LISTEN: " + _one_line(str(error))
            self._lost()
            return
        self._listening = self._unconfirmed = True
        self._watch(select.EPOLLIN)

    # listening -----------------------------------------------------------------
    def _read_notifications(self) -> bool:
        pgconn = self._pgconn
        try:
            # Until nothing more is readable: a server going away sends its error, then
            # the end of the stream, which only the next read sees.
            pgconn.consume_input()
            for _ in range(100):  # bounded: a flood of notifications must not hold the loop
                if not fdwait.readable(pgconn.socket, 0):
                    break
                pgconn.consume_input()
        except self._errors as error:  # the server went away
            self._last_error = "lost the connection: " + _one_line(str(error))
            self._lost()
            return True
        woken = False
        while pgconn.notifies() is not None:
            woken = True
        while not pgconn.is_busy() and pgconn.get_result() is not None:
            pass  # LISTEN's own reply
        if pgconn.status != 0:
            self._last_error = "lost the connection: " + _one_line(pgconn.error_message)
            self._lost()
            return True
        if self._unconfirmed and not pgconn.is_busy():
            # Listening from now on; whatever was submitted before, the caller's next claim sees.
            self._unconfirmed, self._backoff, woken = False, RECONNECT_FIRST, True
        return woken

    # the socket and its epoll set ------------------------------------------------
    def _watch(self, events: int) -> None:
        fd = self._socket()
        if self._watched is not None and self._watched != fd:
            self._unwatch()
        if fd < 0:
            return
        if self._watched is None:
            self._poller.register(fd, events)
            self._watched = fd
        else:
            self._poller.modify(fd, events)

    def _socket(self) -> int:
        try:
            return self._pgconn.socket if self._pgconn is not None else -1
        except self._errors:  # no socket: the connection is gone
            return -1

    def _unwatch(self) -> None:
        if self._watched is not None:
            try:
                self._poller.unregister(self._watched)
            except OSError:
                pass  # closed already
            self._watched = None

    def _lost(self) -> None:
        self._drop()
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RECONNECT_MAX)

    def _drop(self) -> None:
        """Forget the connection; end it only in the process that made it (see PostgresStore._conn)."""
        self._unwatch()
        if self._pgconn is not None and os.getpid() == self._pid:
            self._pgconn.finish()
        self._pgconn, self._listening = None, False


def _one_line(message: "str | bytes") -> str:
    """An error message (libpq's, in bytes, runs over several lines) on one line, for the log."""
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    return " ".join(message.split()) or "no reason given"
