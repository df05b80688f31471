"""The control client: find a running gigqd and send it one command."""

from __future__ import annotations

import json
import socket
from typing import Any

from . import protocol


class DaemonUnreachable(Exception):
    """No daemon answers on the socket (not running, or no permission)."""


class CommandFailed(Exception):
    """The daemon answered with an error."""


def call(path: str, command: str, timeout: float = 10.0, **arguments: Any) -> Any:
    """Send one command and return its result; raise with a message fit for a user."""
    with _connect(path, timeout) as sock:
        sock.sendall(protocol.encode({"command": command, **arguments}))
        reply = _read_line(sock)
    try:
        message = json.loads(reply)
    except ValueError:
        raise CommandFailed(f"gigqd sent a reply that is not JSON: {reply[:200]!r}") from None
    if not message.get("ok"):
        raise CommandFailed(message.get("error", "unknown error"))
    return message.get("result")


def _connect(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with protocol.reachable(path) as address:
            sock.connect(address)
    except PermissionError:
        sock.close()
        raise DaemonUnreachable(
            f"permission denied on control socket {path} (run as the daemon's user, or set socket_group)"
        ) from None
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        sock.close()
        raise DaemonUnreachable(f"no gigqd is listening on {path}") from None
    except OSError as error:
        sock.close()
        raise DaemonUnreachable(f"cannot reach gigqd on {path}: {error}") from None
    return sock


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise CommandFailed("gigqd did not answer in time") from None
    return data.split(b"\n", 1)[0]
