"""Cluster run: three test hosts, one gigqd each, one PostgreSQL reached over their network.

What it does (root only; everything it makes is removed at the end, even on failure):

1. builds 3 hosts (tests/cluster/netns.py: network, pid and UTS namespaces of their
   own) on a bridge, and a throwaway PostgreSQL listening on the bridge's address;
2. starts one gigqd per host, with a short lease so that the run stays short;
3. starts client processes on two hosts (tests/chaos/client.py) that submit short jobs
   (tests/cluster/clusterjobs.py: each run records its host and time window, and an
   exclusive per-job lock proves no two runs of a job were alive at once);
4. meanwhile, in an order drawn from the seed: kills -9 every process of one host at
   once (then boots it again with a new daemon), pulls one host's cable for longer
   than the lease (then puts it back), and restarts one host's daemon;
5. once every job is final: lost 0, completed twice 0, no job ran on two hosts at the
   same time, stuck 0, and how long after a host died (or was cut off) its jobs ran
   elsewhere, p50 and max.

    python -m tests.cluster.cluster               # the short run make test makes
    python -m tests.cluster.cluster --long        # make chaos-cluster
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gigq_client import Job, JobQueue  # noqa: E402
from gigq_client.jobs import FINAL_STATUSES  # noqa: E402
from tests.cluster import record  # noqa: E402
from tests.cluster.netns import Host, Network  # noqa: E402
from tests.cluster.verdict import analyse  # noqa: E402
from tests.postgres_server import Databases, ThrowawayServer, with_database  # noqa: E402

KILL_HOST, CUT_HOST, RESTART_DAEMON = "kill_host", "cut_host", "restart_daemon"
LONG_JOB_MS = 8000.0  # longer than the lease: a cut-off host must stop it, not finish it
FUNCTION = "tests.cluster.clusterjobs:run"


@dataclass
class Plan:
    jobs: int = 2000
    workers: int = 2  # per host
    rate: float = 200.0  # jobs per second over both clients
    lease: float = 4.0
    rounds: int = 1  # each round: one of each fault, in an order drawn from the seed
    deadline: float = 120.0
    seed: Optional[int] = None

    def daemon_settings(self) -> dict[str, Any]:
        return {"workers": self.workers, "allowed_modules": ["tests"], "lease": self.lease, "kill_grace": 0.5,
                "heartbeat_interval": 0.2, "heartbeat_timeout": 2.0, "orphan_check_interval": 0.5,
                "poll_interval": 0.5, "log_format": "json", "log_level": "info", "graceful_timeout": 10.0}


@dataclass
class Fault:
    kind: str
    host: str
    at: float  # epoch seconds
    until: float = 0.0  # a cut: when the cable went back in; a kill: when the host came back
    notes: dict[str, Any] = field(default_factory=dict)


class ClusterRun:
    def __init__(self, folder: Path, plan: Plan, echo: Callable[[str], None] = lambda _: None):
        self.folder, self.plan, self.echo = Path(folder), plan, echo
        plan.seed = plan.seed if plan.seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(plan.seed)
        self.job_log = self.folder / "runs.log"
        (self.folder / "runs.log.locks").mkdir(parents=True, exist_ok=True)
        self.daemons: dict[str, subprocess.Popen] = {}
        self.clients: list[subprocess.Popen] = []
        self.outputs: list[Path] = []
        self.faults: list[Fault] = []
        self.long_jobs = 0  # submitted by the driver, so that each fault catches one in flight
        self.url = ""  # as the hosts reach the database
        self.local_url = ""  # as this process does

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        with Network(hosts=3) as net:
            self.net = net
            server = ThrowawayServer(listen=("127.0.0.1", net.address), trusted_networks=(net.address + "/24",))
            server.start()
            try:
                self._open_database(server)
                for host in net.hosts:
                    self._start_daemon(host)
                self._wait(lambda: len(self._live_daemons()) == 3, "three daemons to register", 30)
                self._start_clients(net.hosts[:2])
                self._inject_faults()
                self._wait(self._all_final, "every job to reach a final state", self.plan.deadline)
                seconds = time.monotonic() - started
                self._stop_daemons()
                self.outputs.append(self.folder / "driver.ids")
                with open(self.outputs[-1], "a") as ids:
                    ids.write("#done\n")
                report = analyse(self, seconds)
            finally:
                self._kill_all()
                server.remove()
        (self.folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
        return report

    # the database and the processes ------------------------------------------------
    def _open_database(self, server: ThrowawayServer) -> None:
        self.local_url = Databases(server.url).new()
        name = self.local_url.rsplit("/", 1)[1]
        self.url = with_database(f"postgresql://postgres@{self.net.address}:{server.port}/postgres", name)

    def _start_daemon(self, host: Host) -> None:
        folder = self.folder / host.hostname
        folder.mkdir(exist_ok=True)
        config = folder / "gigqd.toml"
        settings = {**self.plan.daemon_settings(), "db": self.url, "socket_path": str(folder / "gigqd.sock")}
        config.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
        log = open(folder / "gigqd.log", "a")
        self.daemons[host.hostname] = host.start([sys.executable, "-m", "gigqd", "--config", str(config)],
                                                 env=self._env(), cwd=str(folder), stdout=log)
        log.close()

    def _start_clients(self, hosts: list[Host]) -> None:
        share = self.plan.jobs // len(hosts)
        for index, host in enumerate(hosts):
            out = self.folder / f"client{index}.ids"
            err = open(self.folder / f"client{index}.err", "w")
            count = share if index < len(hosts) - 1 else self.plan.jobs - share * (len(hosts) - 1)
            self.clients.append(host.start([
                sys.executable, "-m", "tests.chaos.client", "--db", self.url, "--job-log", str(self.job_log),
                "--out", str(out), "--index", str(index), "--count", str(count), "--function", FUNCTION,
                "--rate", str(self.plan.rate / len(hosts)), "--max-ms", "20", "--slow-share", "0.05",
                "--max-attempts", "20", "--seed", str(self.plan.seed)], env=self._env(), cwd=str(ROOT), stdout=err))
            err.close()
            self.outputs.append(out)

    def _env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.folder)}

    def _stop_daemons(self) -> None:
        hosts = {host.hostname: host for host in self.net.hosts}
        for name, process in self.daemons.items():
            if process.poll() is None:
                hosts[name].signal(process, signal.SIGTERM)
        for process in self.daemons.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass

    def _kill_all(self) -> None:
        for host in self.net.hosts:
            host.kill_everything()

    # faults ---------------------------------------------------------------------------
    def _inject_faults(self) -> None:
        kinds = [KILL_HOST, CUT_HOST, RESTART_DAEMON] * self.plan.rounds
        self.rng.shuffle(kinds)
        self._wait(lambda: self._runs_so_far() >= 50, "the first jobs to run", 30)
        for kind in kinds:  # every one, even once the clients' jobs are all final: each fault is under test
            {KILL_HOST: self._kill_host, CUT_HOST: self._cut_host, RESTART_DAEMON: self._restart_daemon}[kind]()
            self._pause(self.rng.uniform(1.0, 2.0))

    def _kill_host(self) -> None:
        host = self.net.hosts[2]  # the host without a client: what it submitted would be lost with it
        self._until_it_runs_a_long_job(host)
        fault = Fault(KILL_HOST, host.hostname, time.time())
        fault.notes["killed"] = len(host.kill_everything())
        self._record(fault)
        self._pause(self.plan.lease * 1.5)  # dead for longer than its lease: the others take its jobs over
        host.boot()
        self._start_daemon(host)
        fault.until = time.time()

    def _cut_host(self) -> None:
        host = self.rng.choice(self.net.hosts)
        self._until_it_runs_a_long_job(host)
        fault = Fault(CUT_HOST, host.hostname, time.time())
        host.cut()
        self._record(fault)
        self._pause(self.plan.lease * 2.5)
        host.restore()
        fault.until = time.time()

    def _restart_daemon(self) -> None:
        host = self.rng.choice(self.net.hosts)
        fault = Fault(RESTART_DAEMON, host.hostname, time.time())
        process = self.daemons[host.hostname]
        host.signal(process, signal.SIGTERM)
        try:
            fault.notes["exit"] = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fault.notes["exit"] = "did not stop within 30 s"
        self._start_daemon(host)
        self._record(fault)

    def _until_it_runs_a_long_job(self, host: Host) -> None:
        """Submit jobs longer than the lease until `host` runs one: the fault then always
        catches a job in flight, and once it is taken over it runs on another host.
        Two at a time at first: a pile of them would hold every worker of the cluster.
        But whoever claims first wins the two, and a host once lost 8 rounds in a row
        (docs/reliability.md), so from the fourth round on, one job per worker of the
        cluster: each worker runs one of them (one claimed ahead behind another is
        handed back), `host`'s too, unless it claims nothing at all."""
        pile, submitted = self.plan.workers * len(self.net.hosts), 0
        with JobQueue(self.local_url) as queue, open(self.folder / "driver.ids", "a") as ids:
            for round_ in range(6):
                jobs = [Job("long", FUNCTION, max_attempts=20, priority=100,  # ahead of any backlog
                            params={"log": str(self.job_log), "token": token, "ms": LONG_JOB_MS})
                        for token in (f"L-{self.long_jobs + i}" for i in range(2 if round_ < 3 else pile))]
                self.long_jobs += len(jobs)
                submitted += len(jobs)
                for job_id, job in zip(queue.submit_many(jobs), jobs):
                    ids.write(f"{job.params['token']} {job_id}\n")
                if self._poll(lambda: self._running_long_job(host), LONG_JOB_MS / 1000 + 2):
                    return
        self._write_state("stuck.txt")
        raise AssertionError(f"{host.hostname} ran none of {submitted} long jobs (run kept in {self.folder}, "
                             "each daemon's status and the server's sessions in stuck.txt)")

    def _write_state(self, name: str) -> None:
        """What a failed precondition leaves to look at: each daemon's own status (its
        workers' states, through its control socket) and every session of the server."""
        with open(self.folder / name, "w") as out:
            for host in self.net.hosts:
                socket = self.folder / host.hostname / "gigqd.sock"
                shown = subprocess.run([sys.executable, "-c", "from gigqd.ctl.main import main; main()",
                                        "--socket", str(socket), "status", "--json"],
                                       capture_output=True, text=True, timeout=30, env=self._env(), cwd=str(ROOT))
                out.write(f"== {host.hostname}\n{shown.stdout}{shown.stderr}\n")
            with JobQueue(self.local_url) as queue:
                sessions = queue.store._read(
                    "SELECT client_addr::text, application_name, state, backend_start::text, wait_event "
                    "FROM pg_stat_activity WHERE datname = current_database() ORDER BY client_addr, application_name")
            out.write("== sessions\n" + "\n".join(" ".join(map(str, row)) for row in sessions) + "\n")

    def _running_long_job(self, host: Host) -> bool:
        """Whether the latest run of some long job is on `host` and has not ended (a run an
        earlier fault cut short never ends, but a later run of that job follows it)."""
        if not self.job_log.exists():
            return False
        latest, ended = {}, set()
        for line in self.job_log.read_text().splitlines():
            kind, token, where, pid = line.split()[:4]
            if token.startswith("L-"):
                if kind == "S":
                    latest[token] = (where, pid)
                else:
                    ended.add((token, where, pid))
        return any(where == host.hostname and (token, where, pid) not in ended
                   for token, (where, pid) in latest.items())

    def _poll(self, condition: Callable[[], Any], limit: float) -> Any:
        until = time.monotonic() + limit
        while time.monotonic() < until:
            if condition():
                return True
            time.sleep(0.05)
        return False

    def _record(self, fault: Fault) -> None:
        self.faults.append(fault)
        self.echo(f"{fault.kind} {fault.host} {fault.notes}")

    # waiting ------------------------------------------------------------------------------
    def _pause(self, seconds: float) -> None:
        """A deliberate pause between faults, cut short once every job is final."""
        until = time.monotonic() + seconds
        while time.monotonic() < until and not self._all_final():
            time.sleep(0.1)

    def _wait(self, condition: Callable[[], Any], what: str, limit: float) -> Any:
        until = time.monotonic() + limit
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > until:
                raise AssertionError(f"timed out after {limit:g} s waiting for {what} (run kept in {self.folder})")
            time.sleep(0.1)

    def _runs_so_far(self) -> int:
        return self.job_log.read_text().count("\nS ") if self.job_log.exists() else 0

    def _live_daemons(self) -> list:
        with JobQueue(self.local_url) as queue:
            return [d for d in queue.daemons() if not d.lease_expired]

    def _all_final(self) -> bool:
        if any(client.poll() is None for client in self.clients) or not self.clients:
            return False
        with JobQueue(self.local_url) as queue:
            stats = queue.stats()
        return stats["total"] > 0 and sum(stats[s] for s in FINAL_STATUSES) == stats["total"]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Three test hosts, one PostgreSQL: no job lost, none run twice at once.")
    parser.add_argument("--long", action="store_true", help="10,000 jobs, three rounds of faults (make chaos-cluster)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--dir", type=Path, help="where to run (kept)")
    parser.add_argument("--record", type=Path, metavar="PAGE",
                        help="write the figures of a run that held into PAGE (make chaos-cluster: docs/reliability.md)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    plan = Plan(jobs=10_000, rate=300.0, rounds=3, deadline=400.0, seed=seed) if args.long else Plan(seed=seed)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="gigq-cluster-"))
    print(f"cluster: {plan.jobs} jobs on 3 hosts, {plan.rounds} round(s) of faults, seed {plan.seed}, in {folder}",
          flush=True)
    load, commit = record.load_now(), record.commit_of(ROOT)
    report = ClusterRun(folder, plan, echo=lambda line: print("  " + line, flush=True)).run()
    print(report["table"], flush=True)
    held = not report["violations"] and not report["problems"]
    if held and args.record:
        record.record(args.record, record.figures_block(report, plan, commit, load))
        print(f"figures recorded in {args.record}", flush=True)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
