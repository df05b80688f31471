"""Connecting to PostgreSQL: the optional driver, the URL as shown to people, error translation."""

from __future__ import annotations

import re
from typing import Any

from ...errors import (
    AccessDenied,
    DatabaseLocked,
    DatabaseNotFound,
    DatabaseUnavailable,
    DriverMissing,
    GigqError,
    ReadOnlyStore,
    StatementTimeout,
    StoreError,
    StoreFull,
)

INSTALL_HINT = "pip install 'gigqd[postgres]'"
MINIMUM_SERVER = 130000  # pg_current_snapshot(), MATERIALIZED CTEs
DEFAULT_CONNECT_TIMEOUT = 10.0
# A connection whose peer is cut off must fail, not hang until TCP gives up (about
# 15 minutes): unacknowledged data for this long, or a quiet connection whose
# keepalive probes go unanswered, closes it. A daemon then fails over to its fence.
NETWORK_SILENCE_MS = 5000
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
APPLICATION_NAME = "gigq"
# SQLSTATE classes and codes we name; everything else is a StoreError with the server's text.
_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")  # connection, shutdown, starting up, too many clients
_BY_CODE = {
    "57014": StatementTimeout, "55P03": DatabaseLocked, "53100": StoreFull, "25006": ReadOnlyStore,
    "42501": AccessDenied, "28000": AccessDenied, "28P01": AccessDenied, "3D000": DatabaseNotFound,
}
_CONNECT_NOISE = re.compile(r'^(connection failed: )?(connection to server (at|on) .*? failed: )?(FATAL: +)?')


def driver() -> Any:
    """The psycopg module; DriverMissing, with what to install, when it is absent."""
    try:
        import psycopg
    except ImportError:
        raise DriverMissing(f"a postgresql:// URL needs the PostgreSQL driver (psycopg 3): {INSTALL_HINT}") from None
    return psycopg


def describe(url: str) -> str:
    """The URL as it may be printed: user, host, port and database, never the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:  # not parseable: show the scheme only, it may hold a password anywhere
        return url.split("://", 1)[0] + "://..."
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"postgresql://{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


# And the server's side of it: a client cut off mid-transaction (a pulled cable sends
# no reset) would hold its row locks until the server's TCP keepalive, two hours by
# default, and stall every host that needs those rows. Our transactions never wait on
# anything but the database, so a session idle inside one for this long is dead; and
# a statement that waits for a row lock longer than lock_timeout fails (DatabaseLocked)
# and is tried again later, instead of holding up a supervisor's loop and its lease.
SERVER_OPTIONS = ("-c idle_in_transaction_session_timeout=5000 -c lock_timeout=2000 -c tcp_keepalives_idle=5 "
                  "-c tcp_keepalives_interval=2 -c tcp_keepalives_count=2")


def network_options(url: str, application_name: str) -> dict[str, Any]:
    """What every connection of ours asks of libpq and of the server, unless the URL says otherwise."""
    wanted = {"application_name": application_name, "tcp_user_timeout": NETWORK_SILENCE_MS, **KEEPALIVES,
              "options": SERVER_OPTIONS}
    return {name: value for name, value in wanted.items() if name not in url}


def connect(url: str, connect_timeout: float) -> Any:
    """An autocommit connection (transactions are explicit), checked to be a usable server."""
    psycopg = driver()
    options: dict[str, Any] = {"autocommit": True, "connect_timeout": max(2, round(connect_timeout)),
                               **network_options(url, APPLICATION_NAME)}
    try:
        conn = psycopg.connect(url, **options)
    except psycopg.Error as error:
        raise connect_error(error, url) from None
    if conn.info.server_version < MINIMUM_SERVER:
        version = conn.info.server_version
        conn.close()
        raise StoreError(f"{describe(url)}: PostgreSQL {version // 10000} is too old: gigq needs 13 or newer")
    return conn


def cursor(conn: Any) -> Any:
    """The connection's own cursor, made once: a new one for each statement (what
    conn.execute() does) costs about 20 us, a fifth of a round trip here. Each use
    consumes its results before the next, and a connection serves one thread."""
    made = getattr(conn, "_gigq_cursor", None)
    if made is None or made.closed:
        made = conn._gigq_cursor = conn.cursor()
    return made


def connect_error(error: Exception, url: str) -> GigqError:
    """Why a connection could not be made, in one line that names the server."""
    if isinstance(error, driver().ProgrammingError):
        return StoreError(f"cannot connect to {describe(url)}: not a valid PostgreSQL URL ({_one_line(str(error))})")
    return connect_error_text(str(error), url)


def connect_error_text(message: str, url: str) -> GigqError:
    text = _one_line(_CONNECT_NOISE.sub("", message.strip()))
    where = f"cannot connect to {describe(url)}"
    lowered = text.lower()
    if "password" in lowered or "authentication" in lowered or "pg_hba.conf" in lowered or "role" in lowered:
        return AccessDenied(f"{where}: {text}")
    if "database" in lowered and "does not exist" in lowered:
        return DatabaseNotFound(f"{where}: {text}")
    return DatabaseUnavailable(f"{where}: {text}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def translate(error: Exception, url: str) -> GigqError:
    """Turn a psycopg error met while using a connection into a GigqError naming the problem."""
    psycopg = driver()
    code = getattr(error, "sqlstate", None) or ""
    text = " ".join(str(error).split())
    where = describe(url)
    if code in _BY_CODE:
        return _BY_CODE[code](f"{where}: {text}")
    if code.startswith(_UNAVAILABLE) or (isinstance(error, psycopg.OperationalError) and not code):
        return DatabaseUnavailable(f"lost the connection to {where}: {text}")
    if code == "42P01":  # undefined table
        return StoreError(f"{where} is not initialised as a job store ({text}); open it with initialize=True")
    return StoreError(f"{where}: {text}")


def retryable(error: Exception) -> bool:
    """A deadlock or serialization failure: the server rolled back, and running again is safe."""
    return getattr(error, "sqlstate", None) in ("40P01", "40001")
