"""gigqd as a child of the calling process, for Worker.start(): started, stopped and waited for."""

from __future__ import annotations

import importlib.util
import os
import signal
import site
import subprocess
import sys
import sysconfig
import threading
import uuid
from typing import Optional, Sequence

from .errors import DaemonExited, GigqError

POLL_INTERVAL_RANGE = (0.01, 3600.0)  # what gigqd accepts as poll_interval
# These speak for the caller's own service manager (systemd): the child must not answer for it.
CALLER_ONLY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ChildDaemon:
    """One gigqd run: run() starts it and waits; stop(), from any thread, asks it to stop gracefully."""

    def __init__(self, db_path: str, workers: int, poll_interval: float, allowed_modules: Optional[Sequence[str]]):
        self.db_path = os.path.abspath(db_path)
        self.workers, self.allowed_modules = workers, allowed_modules
        self.poll_interval = min(max(float(poll_interval), POLL_INTERVAL_RANGE[0]), POLL_INTERVAL_RANGE[1])
        # A socket of its own: several Workers (or a gigqd) may serve one database.
        self.socket_path = f"{self.db_path}.{uuid.uuid4().hex[:12]}.sock"
        self.process: Optional[subprocess.Popen] = None
        self.stop_asked = False
        self._term_sent = False
        self._lock = threading.RLock()  # reentrant: stop() also runs from a signal handler in run()'s thread

    def run(self) -> None:
        """Start gigqd and return once it has exited; DaemonExited if it failed on its own."""
        if importlib.util.find_spec("gigqd") is None:
            raise GigqError("Worker.start() runs gigqd, which this Python cannot import: install gigqd")
        if not self._spawn():
            return
        try:
            code = self.process.wait()
        finally:
            _remove(self.socket_path)  # gigqd removes it; unless stopped before it could
        if code != 0 and not self.stop_asked:
            raise DaemonExited(f"gigqd (pid {self.process.pid}) {_ended(code)} before it was asked to stop; "
                               "its reason is in its log on standard error")

    def _spawn(self) -> bool:
        """Start gigqd, unless stop() came first (then False)."""
        with self._lock:
            if self.stop_asked:
                return False
            # Its own session: a Ctrl-C on the terminal reaches the caller only, which
            # passes on one TERM (a second one would make gigqd stop at once).
            self.process = subprocess.Popen(self.command(), env=self.environment(), start_new_session=True)
            if self.stop_asked:  # stop() from a signal handler while Popen ran
                self._terminate()
            return True

    def stop(self) -> None:
        """Ask gigqd to stop gracefully: running jobs finish (up to graceful_timeout)."""
        with self._lock:
            self.stop_asked = True
            self._terminate()

    def command(self) -> list[str]:
        # --stop-with-parent: the kernel sends gigqd TERM if this process dies, even by kill -9.
        return [sys.executable, "-m", "gigqd", "--db", self.db_path, "--workers", str(self.workers),
                "--poll-interval", repr(self.poll_interval), "--stop-with-parent", str(os.getpid())]

    def environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if k not in CALLER_ONLY_VARIABLES}
        environment["PYTHONPATH"] = os.pathsep.join(import_path())
        environment["GIGQD_SOCKET_PATH"] = self.socket_path
        if self.allowed_modules is not None:
            environment["GIGQD_ALLOWED_MODULES"] = ",".join(self.allowed_modules)
        return environment

    def _terminate(self) -> None:
        if self.process is not None and not self._term_sent and self.process.poll() is None:
            self._term_sent = True
            self.process.send_signal(signal.SIGTERM)


def import_path() -> list[str]:
    """The caller's cwd and sys.path, so that gigqd's workers import job modules as the caller
    does. The interpreter's own folders are left out: the child has them already, in their
    place after the standard library (ahead of it, a backport in site-packages would shadow it)."""
    own = tuple(os.path.join(p, "") for p in _interpreter_folders())
    found: list[str] = []
    for entry in [os.getcwd(), *sys.path]:
        if not isinstance(entry, str):
            continue
        path = os.path.abspath(entry or os.curdir)
        if path not in found and os.path.exists(path) and not os.path.join(path, "").startswith(own):
            found.append(path)
    return found


def _interpreter_folders() -> set[str]:
    folders = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    return {os.path.abspath(folder) for folder in folders if folder}


def _ended(code: int) -> str:
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
