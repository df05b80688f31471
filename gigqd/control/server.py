"""The control server: non-blocking, served from the supervisor's own selector loop."""

from __future__ import annotations

import os
import selectors
import socket
import stat
from typing import Any, Callable

from .. import files
from . import protocol

Handler = Callable[[dict[str, Any]], Any]
MAX_CLIENTS = 32


class ControlError(Exception):
    """A command's handler refuses the request; the message goes back to the client."""


class ControlServer:
    def __init__(self, path: str, mode: int, group: str, handlers: dict[str, Handler],
                 selector: selectors.BaseSelector, log: Any):
        self.path, self.mode, self.group = path, mode, group
        self.handlers, self.selector, self.log = handlers, selector, log
        self.listener: socket.socket | None = None
        self.clients: dict[int, _Client] = {}

    def listen(self) -> None:
        _refuse_if_served(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with protocol.reachable(self.path) as address:
            old_umask = os.umask(0o177)  # the socket never exists with looser rights than asked
            try:
                listener.bind(address)
            finally:
                os.umask(old_umask)
        os.chmod(self.path, self.mode)
        if self.group:
            files.share_with_group(self.path, self.group)
        listener.listen(16)
        listener.setblocking(False)
        self.listener = listener
        self.selector.register(listener, selectors.EVENT_READ, self._accept)
        self.log.info("control_listened", socket=self.path)

    def fds(self) -> list[int]:
        fds = [client.sock.fileno() for client in self.clients.values()]
        return fds + ([self.listener.fileno()] if self.listener else [])

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._drop(client)
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        if len(self.clients) >= MAX_CLIENTS:
            sock.close()
            return
        sock.setblocking(False)
        client = _Client(sock)
        self.clients[sock.fileno()] = client
        self.selector.register(sock, selectors.EVENT_READ, lambda: self._on_client(client))

    def _on_client(self, client: "_Client") -> None:
        if client.outbox:
            self._send(client)
        if client.closing:
            return
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbox += data
        self._answer_lines(client)

    def _answer_lines(self, client: "_Client") -> None:
        while b"\n" in client.inbox:
            line, client.inbox = client.inbox.split(b"\n", 1)
            self._queue(client, self._dispatch(line))
        if len(client.inbox) > protocol.MAX_LINE:
            self._queue(client, protocol.reply_error(f"request larger than {protocol.MAX_LINE} bytes"))
            client.inbox, client.closing = b"", True
        self._send(client)

    def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            command, arguments = protocol.decode_request(line)
            handler = self.handlers.get(command)
            if handler is None:
                raise protocol.ProtocolError(f"unknown command {command!r}; known: {', '.join(sorted(self.handlers))}")
            result = handler(arguments)
        except (protocol.ProtocolError, ControlError) as refusal:
            self.log.warning("control_request_failed", error=str(refusal))
            return protocol.reply_error(str(refusal))
        except Exception as error:  # a bug in one command must not take the supervisor down
            self.log.error("control_request_failed", error=f"{type(error).__name__}: {error}")
            return protocol.reply_error(f"internal error: {type(error).__name__}: {error}")
        self.log.debug("control_command_handled", command=command)
        return protocol.reply_ok(result)

    def _queue(self, client: "_Client", message: dict[str, Any]) -> None:
        client.outbox += protocol.encode(message)

    def _send(self, client: "_Client") -> None:
        try:
            sent = client.sock.send(client.outbox)
            client.outbox = client.outbox[sent:]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbox else 0)
        if not client.outbox and client.closing:
            self._drop(client)
        else:
            self.selector.modify(client.sock, events, lambda: self._on_client(client))

    def _drop(self, client: "_Client") -> None:
        self.clients.pop(client.sock.fileno(), None)
        try:
            self.selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()


class _Client:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.inbox = b""
        self.outbox = b""
        self.closing = False


def _refuse_if_served(path: str) -> None:
    """Remove a stale socket file; refuse to steal one a live daemon answers on."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(f"control socket path {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with protocol.reachable(path) as address:
            probe.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)  # left behind by a daemon that died
        return
    finally:
        probe.close()
    raise OSError(f"control socket {path} is in use by a running gigqd")
