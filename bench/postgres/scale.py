"""Drains on 1, 2 or 3 test hosts sharing one PostgreSQL: the measurement of bench/cluster_scale.py.

The hosts are tests/cluster/netns.py's (network, pid and UTS namespaces of their own, on
a bridge); the server is a throwaway one listening on the bridge's address, as in
tests/cluster/cluster.py. The jobs are enqueued from this machine (127.0.0.1) with the
system's batch call before any worker starts; the workers run inside the hosts and reach
the server over the bridge. Everything shares the machine's CPUs: that is the point.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

import psutil

from comparison.joblog import JobLog

from .paths import REPO
from .phases import PhaseFailed, Place, fresh_place, is_problem, run_client
from .server import Databases as FreshDatabases
from .systems import System

if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.cluster.netns import Host, Network  # noqa: E402
from tests.postgres_server import Databases, ThrowawayServer, with_database  # noqa: E402

STOP_GRACE = 5.0


@dataclass
class Cluster(FreshDatabases):
    """The hosts and the one server, with new_database/drop as phases.fresh_place expects."""

    net: Network
    server: ThrowawayServer
    databases: Databases

    def seen_from_hosts(self, url: str) -> str:
        """The same database as the hosts reach it: over the bridge, not 127.0.0.1."""
        name = urlsplit(url).path.lstrip("/")
        return with_database(f"postgresql://postgres@{self.net.address}:{self.server.port}/postgres", name)


@contextlib.contextmanager
def cluster(hosts: int = 3) -> Iterator[Cluster]:
    """A network of `hosts` test hosts and a server on its bridge, both removed on exit."""
    with Network(hosts=hosts) as net:
        server = ThrowawayServer(listen=("127.0.0.1", net.address), trusted_networks=(net.address + "/24",))
        server.start()
        try:
            yield Cluster(net, server, Databases(server.url))
        finally:
            server.remove()


@dataclass
class Drain:
    """One measurement: `jobs` jobs of `kind` drained on `hosts` hosts, `per_host` workers each."""

    hosts: int
    per_host: int
    kind: str
    jobs: int
    timeout: float


@dataclass
class Started:
    """The processes one measurement started on the hosts: (host, the nsenter in front of it)."""

    processes: list
    spawned_at: float  # time.time() just before the first start

    def alive(self) -> bool:
        return any(process.poll() is None for _, process in self.processes)


def drain(cluster: Cluster, system: System, plan: Drain) -> dict:
    """Enqueue the jobs in one batch call, start the system's workers on the hosts, time the drain."""
    with fresh_place(system, cluster) as place:
        run_client(system, place, "init")
        run_client(system, place, "many", "--jobs", str(plan.jobs), "--kind", plan.kind)
        log = JobLog(place.job_log)
        started = start(cluster, system, place, plan)
        try:
            finished = log.wait_for(plan.jobs, plan.timeout, tick=started.alive)
        finally:
            forced = stop(started)
        if not finished:
            why = "the workers exited" if not started.alive() else f"not done after {plan.timeout:g} s"
            raise PhaseFailed(f"{len(log.ends)}/{plan.jobs} jobs finished on {plan.hosts} host(s): {why}")
        return {
            "spawn_per_s": plan.jobs / (log.last_end() - started.spawned_at),
            "steady_per_s": plan.jobs / (log.last_end() - log.first_start()),
            "repeated_starts": log.repeated_starts,
            "forced_stop": forced,
            "log_problems": problems(system, place),
        }


def start(cluster: Cluster, system: System, place: Place, plan: Drain) -> Started:
    url = cluster.seen_from_hosts(place.url)
    env = system.env(url, place.job_log)
    started = Started([], time.time())
    for host in cluster.net.hosts[:plan.hosts]:
        for number, argv in enumerate(commands(system, url, host, place, plan.per_host)):
            with open(os.path.join(place.folder, f"{host.hostname}-{number}.log"), "ab") as output:
                started.processes.append((host, host.start(argv, env=env, cwd=place.folder, stdout=output)))
    return started


def commands(system: System, url: str, host: Host, place: Place, workers: int) -> list:
    """The system's worker commands for one host: `workers` processes (pgqueuer: as many
    `pgq run`), or one gigqd with that many workers. gigqd gets a settings file of its own
    per host: besides the workers only its control socket differs from the defaults, since
    the default socket name comes from the URL, which every host shares, in a shared /tmp."""
    if not system.key.startswith("gigqd"):
        return [system.commands(url)[0]] * workers
    config = os.path.join(place.folder, f"{host.hostname}.toml")
    settings = {"db": url, "workers": workers, "allowed_modules": [system.extra_env["GIGQD_ALLOWED_MODULES"]],
                "socket_path": os.path.join(place.folder, f"{host.hostname}.sock"),
                "log_format": "json", "log_level": "warning"}
    with open(config, "w") as out:
        out.write("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    return [[system.python, "-m", "gigqd", "--config", config]]


def stop(started: Started) -> bool:
    """TERM each process (past its nsenter), wait, then KILL what is left; True if KILL was needed."""
    for host, process in started.processes:
        if process.poll() is None:
            _terminate(host, process)
    deadline = time.monotonic() + STOP_GRACE
    while started.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    forced = started.alive()
    for _, process in started.processes:
        _kill_tree(process)
    return forced


def _terminate(host: Host, process: subprocess.Popen) -> None:
    try:
        host.signal(process, signal.SIGTERM)
    except (ProcessLookupError, RuntimeError):
        pass  # it exited meanwhile


def _kill_tree(process: subprocess.Popen) -> None:
    try:
        members = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        members = []
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    process.kill()
    process.wait(timeout=10)


def problems(system: System, place: Place) -> list:
    """Warning and error lines the system's processes wrote, from every host."""
    found = []
    for name in sorted(os.listdir(place.folder)):
        if name.endswith(".log") and name != "jobs.log":
            with open(os.path.join(place.folder, name), errors="replace") as output:
                found.extend(line.rstrip() for line in output if is_problem(system, line))
    return found
