"""Converting values between Python and PostgreSQL columns the way the SQLite store returns them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def moment(epoch: Optional[float]) -> Optional[datetime]:
    """Epoch seconds as a timestamptz value, cut to microseconds as timestamps.iso() cuts them,
    so a time reads back as the same ISO text SQLite would have stored."""
    if epoch is None:
        return None
    seconds = int(epoch // 1)
    return _EPOCH + timedelta(seconds=seconds, microseconds=int((epoch - seconds) * 1_000_000))


def micros(epoch: Optional[float]) -> Optional[int]:
    """Epoch seconds as whole microseconds, cut as moment() cuts them: what the store's
    functions take (gigq_time() turns it into the same timestamptz)."""
    if epoch is None:
        return None
    seconds = int(epoch // 1)
    return seconds * 1_000_000 + int((epoch - seconds) * 1_000_000)


def parse(text: str, default: float) -> datetime:
    """An ISO timestamp given by the client (Job.created_at), or `default` when empty."""
    if text:
        try:
            stamp = datetime.fromisoformat(text)
            return stamp if stamp.tzinfo else stamp.astimezone(timezone.utc)
        except ValueError:
            pass
    return moment(default)


def iso(stamp: Optional[datetime]) -> Optional[str]:
    """A timestamptz as ISO 8601 in UTC with microseconds, like timestamps.iso()."""
    if stamp is None:
        return None
    return stamp.astimezone(timezone.utc).isoformat(timespec="microseconds")


def seconds(value: Any) -> Any:
    """A number of seconds stored as double precision, as an int when whole (as SQLite returns 300)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
