"""gigqd side by side with its peers, gigq 0.5.1 and Huey (SqliteHuey), in one run.

    python bench/compare.py [--jobs 10000] [--workers 2] [--reps 3] [--quick]
                            [--only gigqd,gigq,huey,raw] [--json results.json]

Run it from the repository root with the project's python (.venv/bin/python, which
`make test` creates): gigqd runs as `python -m gigqd` from that same interpreter.
The peers are installed into their own venv, bench/.peers-venv, created on the first
run (`pip install gigq==0.5.1 huey`) and reused afterwards.

Every system runs 2 worker processes on its documented defaults. For each repetition
the phases run one after another, and within a phase the systems take turns (their
order rotates between repetitions), each measurement in a fresh temporary directory:

  1. enqueue N no-op jobs, one call per job, from one client process, no workers
     running; then start the workers and time the drain (spawn→done, and steady:
     first job start → last job end). gigqd drains twice: on its default (each
     outcome committed before the next job) and with record_outcomes = "batched"
     (opt-in). The raw SQLite ceiling loop takes its turn here.
  2. gigqd only: submit_many of N jobs in one call, in a fresh client process, timed
     for the call alone and counting the list comprehension of Job(...) before it.
  3. gigqd only, contention: 16 client processes each submitting 1,500 jobs (100 with
     --quick), one call per job, while the daemon drains them: every submit timed
     (p50, p99, max), errors, jobs completed, throughput; and the same clients with no
     daemon running, then the drain (what doing both one after the other takes).
  4. drain of 10 ms jobs (min(N, 2000); 500 with --quick) against the ideal of
     workers × 100 jobs/s. "raw" takes its turn here as the floor: the same job
     function called back to back by as many processes, no queue at all.
  5. a fresh, idle pool for 5 s, then 200 jobs 20 ms apart (submit-to-start latency),
     then idle CPU of the whole process tree over 5 s, and RSS.

Every job carries the params users typically send: a 40-character path, an int and two
floats (bench/benchjobs.py payload()), for gigqd and the peers alike.

Before each measurement the harness syncs the disks and waits (3 s at most) for the
machine to go quiet, the same for every system.

Jobs live in bench/benchjobs.py and record their start and end in a log file, which is
how the harness tells that a drain is done and how late each job started. Output:
versions, machine, one markdown table, ratios, and the targets MET / NOT MET (reported,
never asserted: the exit status is 0 unless the harness itself broke). Standard library
and psutil only.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sqlite3
import statistics
import sys
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from comparison import peers_venv, phases, report, systems  # noqa: E402
from comparison.driver import measure_one, rotated, source_state, stop_on_sigterm  # noqa: E402
from comparison.phases import Plan  # noqa: E402

ALL_SYSTEMS = ["gigqd", "gigqd-batched", "gigq", "huey", "raw"]
CHOSEN_WITH = {"gigqd-batched": "gigqd"}  # rows measured whenever the system named is chosen
LOAD_AT_START = os.getloadavg()


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per enqueue and no-op drain (default 10000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per system (default 2)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2000 jobs, 1 repetition, short idle phases")
    choices = [key for key in ALL_SYSTEMS if key not in CHOSEN_WITH]
    parser.add_argument("--only", default=",".join(choices), help="comma-separated subset of " + ",".join(choices))
    parser.add_argument("--json", dest="json_path", help="also write the raw results here")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(choices)
    if unknown or not args.only:
        parser.error(f"--only takes a subset of {','.join(choices)}; got {','.join(sorted(unknown)) or 'nothing'}")
    args.only += [key for key, chosen_with in CHOSEN_WITH.items() if chosen_with in args.only]
    if args.quick:
        args.jobs, args.reps = 2000, 1
    if args.jobs < 1 or args.reps < 1 or args.workers < 1:
        parser.error("--jobs, --reps and --workers must be at least 1")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(jobs=args.jobs, sleep_jobs=min(args.jobs, 500), idle_seconds=2, latency_jobs=50,
                    latency_interval=0.02, cpu_seconds=2, contention_jobs=100)
    return Plan(jobs=args.jobs, sleep_jobs=min(args.jobs, 2000), idle_seconds=5, latency_jobs=200,
                latency_interval=0.02, cpu_seconds=5)


def make_systems(wanted: list) -> tuple:
    """The systems to measure, and the versions to print."""
    versions = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                "gigqd": importlib.metadata.version("gigqd") + source_state()}
    chosen = {}
    if "gigqd" in wanted:
        chosen["gigqd"] = systems.gigqd(sys.executable)
        chosen["gigqd-batched"] = systems.gigqd_batched(sys.executable)
    if "gigq" in wanted or "huey" in wanted:
        peer_versions = peers_venv.ensure()
        versions.update(gigq=peer_versions["gigq"], huey=peer_versions["huey"])
        if peer_versions["sqlite"] != sqlite3.sqlite_version:
            versions["sqlite (peers' venv)"] = peer_versions["sqlite"]
        if "gigq" in wanted:
            chosen["gigq"] = systems.gigq(peers_venv.PYTHON)
        if "huey" in wanted:
            chosen["huey"] = systems.huey(peers_venv.PYTHON)
    return chosen, versions




# the run ----------------------------------------------------------------------
def phase_list(plan: Plan, chosen: dict, include_raw: bool) -> list:
    """(phase name, which systems take part, what to run for one system) in running order."""
    def drain_noop(key: str) -> dict:
        if key == "raw":
            return phases.raw_ceiling(plan)
        return phases.enqueue_and_drain(chosen[key], plan, "noop", plan.jobs)

    def drain_sleep(key: str) -> dict:
        if key == "raw":
            return phases.no_queue_floor(plan, systems.WORKERS)
        figures = phases.enqueue_and_drain(chosen[key], plan, "sleep10", plan.sleep_jobs)
        shared = ("log_problems", "forced_stop", "repeated_starts")
        return {(name if name in shared else "sleep_" + name): value for name, value in figures.items()
                if name != "enqueue_per_s"}  # only the no-op enqueue is reported

    def drain_noop_in_turn(key: str) -> dict:
        figures = drain_noop(key)
        if key in CHOSEN_WITH:  # its enqueue is the same client code, reported once in its own row
            figures.pop("enqueue_per_s")
        return figures

    queues = [key for key in chosen if key not in CHOSEN_WITH]
    raw = ["raw"] if include_raw else []
    mine = [k for k in queues if chosen[k].has_submit_many]
    return [
        ("enqueue + drain no-op", list(chosen) + raw, drain_noop_in_turn),
        ("enqueue beside a daemon", mine, lambda key: phases.enqueue_beside_daemon(chosen[key], plan)),
        ("submit_many", mine, lambda key: phases.submit_many(chosen[key], plan)),
        ("contention", mine, lambda key: phases.contention(chosen[key], plan)),
        ("drain 10 ms jobs", queues + raw, drain_sleep),
        ("idle, latency, CPU, RSS", queues, lambda key: phases.idle_latency_cpu_rss(chosen[key], plan)),
    ]




def run(plan: Plan, chosen: dict, include_raw: bool, reps: int, records: list) -> report.Results:
    results = report.Results(reps)
    order = [key for key in ALL_SYSTEMS if key in chosen or (key == "raw" and include_raw)]
    for rep in range(reps):
        turn = rotated(order, rep)
        for phase, taking_part, measure in phase_list(plan, chosen, include_raw):
            for key in [k for k in turn if k in taking_part]:
                measure_one(results, records, rep, reps, phase, key, measure, summary=summary)
    return results






def summary(figures: dict) -> str:
    shown = [f"{name} {value:,.2f}" for name, value in figures.items()
             if isinstance(value, float) and not name.startswith("peak")]
    return ", ".join(shown[:4])




def sleep_overshoot_ms(samples: int = 100) -> float:
    """What time.sleep(0.01) really takes here (median): the 10 ms jobs cannot beat it."""
    taken = []
    for _ in range(samples):
        started = time.perf_counter()
        time.sleep(0.01)
        taken.append(time.perf_counter() - started)
    return statistics.median(taken) * 1000


# output -----------------------------------------------------------------------
def header(args: argparse.Namespace, plan: Plan, versions: dict, sleep_ms: float) -> list:
    memory = psutil.virtual_memory().total / 1024**3
    return [
        f"# gigqd vs peers: {plan.jobs:,} jobs, {systems.WORKERS} workers each, {args.reps} repetition(s)"
        + (" (--quick)" if args.quick else ""),
        "",
        "versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()),
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, {memory:.1f} GiB RAM; time.sleep(0.01) takes "
        f"{sleep_ms:.2f} ms here, so 10 ms jobs reach at most {1000 / sleep_ms:.1f} % of ideal",
        "load average (1, 5, 15 min) at the start: " + ", ".join(f"{v:.2f}" for v in LOAD_AT_START)
        + "; at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + " (other work on the machine skews the figures)",
        f"phases: no-op drain {plan.jobs:,} jobs, 10 ms drain {plan.sleep_jobs:,} jobs, idle {plan.idle_seconds:g} s, "
        f"latency {plan.latency_jobs} jobs {plan.latency_interval * 1000:g} ms apart, "
        f"idle CPU over {plan.cpu_seconds:g} s",
        "",
    ]


def print_report(args: argparse.Namespace, plan: Plan, versions: dict, sleep_ms: float, results: report.Results,
                 elapsed: float) -> None:
    shown = [key for key in ALL_SYSTEMS if key in args.only]
    lines = header(args, plan, versions, sleep_ms)
    lines += report.table(results, shown) + [""]
    if "gigqd" in shown:
        lines += report.contention_table(results, plan)
    lines += report.legend() + [""]
    if "gigqd" in shown:
        lines += report.ratio_lines(results, shown) + [""] + report.target_lines(results) + [""]
    lines += report.note_lines(results, shown)
    lines.append(f"total time {elapsed:.0f} s")
    print("\n".join(lines), flush=True)


def write_json(path: str, args: argparse.Namespace, plan: Plan, versions: dict, sleep_ms: float, records: list) -> None:
    with open(path, "w") as output:
        json.dump({"versions": versions, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                     "memory_bytes": psutil.virtual_memory().total,
                                                     "sleep_10ms_takes_ms": sleep_ms},
                   "plan": vars(plan), "reps": args.reps, "measurements": records}, output, indent=1)




def main(argv: list) -> int:
    args = parse_args(argv)
    systems.WORKERS = args.workers
    plan = make_plan(args)
    stop_on_sigterm()
    began = time.monotonic()
    try:
        chosen, versions = make_systems(args.only)
    except peers_venv.PeersVenvError as error:
        print(f"compare.py: cannot set up the peers' venv: {error}", file=sys.stderr)
        return 2
    sleep_ms = sleep_overshoot_ms()
    records: list = []
    try:
        results = run(plan, chosen, "raw" in args.only, args.reps, records)
    except KeyboardInterrupt:
        print("compare.py: interrupted; every process it started has been ended", file=sys.stderr)
        return 130
    print_report(args, plan, versions, sleep_ms, results, time.monotonic() - began)
    if args.json_path:
        write_json(args.json_path, args, plan, versions, sleep_ms, records)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
