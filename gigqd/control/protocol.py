"""The control protocol: one JSON object per line each way, with a size limit.

Request:  {"command": "status", ...arguments}
Response: {"ok": true, "result": ...}  or  {"ok": false, "error": "what went wrong"}
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator

MAX_LINE = 64 * 1024
SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes on Linux; keep a margin


class ProtocolError(Exception):
    """A request that cannot be understood; the reply says why."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def decode_request(line: bytes) -> tuple[str, dict[str, Any]]:
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"request is not JSON: {error}") from None
    if not isinstance(request, dict) or not isinstance(request.get("command"), str):
        raise ProtocolError('request must be a JSON object with a "command" string')
    command = request.pop("command")
    return command, request


def reply_ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def reply_error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


@contextlib.contextmanager
def reachable(path: str) -> Iterator[str]:
    """An address for `path` that fits in sun_path: a long path is reached through
    /proc/self/fd/N of its open directory (Linux), so deep directories still work."""
    if len(path.encode()) <= SOCKET_PATH_LIMIT:
        yield path
        return
    directory = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    finally:
        os.close(directory)
