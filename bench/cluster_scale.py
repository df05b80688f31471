"""Many hosts on one PostgreSQL: gigqd on 1, 2 and 3 test hosts beside pgqueuer, in one run.

    sudo python bench/cluster_scale.py [--reps 3] [--quick] [--only gigqd,pgqueuer] [--json out.json]

Root only: the hosts are tests/cluster/netns.py's network namespaces (make host-tools
installs ip and nsenter). Run it from the repository root with the project's python
(.venv/bin/python): gigqd runs as `python -m gigqd` from that same interpreter, pgqueuer
from bench/.pg-peers-venv (bench/postgres/peers_venv.py, made on the first run).

One throwaway PostgreSQL (fsync and synchronous_commit off, as in the tests) listens on
the bridge of 3 test hosts. For each repetition, job kind (no-op, then 10 ms) and host
count (1, 2, 3), each system in turn (the order rotating) gets a fresh database, the jobs
enqueued in one batch call from this machine with no worker running, then its workers
started on that many hosts: gigqd one daemon per host (`--workers 2`, defaults otherwise),
pgqueuer 2 `pgq run` processes per host. The drain is timed from the first job's start to
the last job's end as the jobs recorded them (steady), and from starting the processes
(spawn→done). Every host, the server and the CPUs are the same machine's: the figures show
where that machine saturates, not what separate machines would do.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from comparison.driver import progress, rotated, settle, source_state, stop_on_sigterm  # noqa: E402
from comparison.report import Results, rate, spread, times  # noqa: E402
from postgres import peers_venv, scale, systems  # noqa: E402
from postgres.phases import PhaseFailed  # noqa: E402

HOST_COUNTS = (1, 2, 3)
KINDS = {"noop": "no-op", "sleep10": "10 ms"}
SYSTEMS = ("gigqd", "pgqueuer")
LOAD_AT_START = os.getloadavg()


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions; each cell is their median (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1,000 no-op and 200 10 ms jobs, 1 repetition")
    parser.add_argument("--noop-jobs", type=int, default=20_000)
    parser.add_argument("--sleep-jobs", type=int, default=3_000, help="10 ms jobs per drain")
    parser.add_argument("--only", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--workers", type=int, default=systems.WORKERS,
                        help=f"worker processes per host (default {systems.WORKERS}); "
                             "more shows where the machine saturates")
    parser.add_argument("--json", dest="json_path", help="also write every measurement here")
    args = parser.parse_args(argv)
    args.only = [key for key in SYSTEMS if key in args.only.split(",")]
    args.kinds = [kind for kind in KINDS if kind in args.kinds.split(",")]
    if not args.only or not args.kinds:
        parser.error(f"--only takes a subset of {','.join(SYSTEMS)}, --kinds of {','.join(KINDS)}")
    if args.quick:
        args.noop_jobs, args.sleep_jobs, args.reps = 1000, 200, 1
    if min(args.reps, args.noop_jobs, args.sleep_jobs, args.workers) < 1:
        parser.error("--reps, --noop-jobs, --sleep-jobs and --workers must be at least 1")
    args.jobs = {"noop": args.noop_jobs, "sleep10": args.sleep_jobs}
    return args


def make_systems(wanted: list) -> tuple:
    versions = {"python": platform.python_version(), "gigqd": importlib.metadata.version("gigqd") + source_state()}
    chosen = {"gigqd": systems.gigqd(sys.executable)} if "gigqd" in wanted else {}
    if "pgqueuer" in wanted:
        peers = peers_venv.ensure()
        versions.update(pgqueuer=peers["pgqueuer"], asyncpg=peers["asyncpg"])
        chosen["pgqueuer"] = systems.pgqueuer(peers_venv.PYTHON)
    return chosen, versions


def cell_key(system: str, hosts: int) -> str:
    return f"{system}@{hosts}"


# the run ----------------------------------------------------------------------
def run(args: argparse.Namespace, chosen: dict, cluster: scale.Cluster, records: list) -> Results:
    results = Results(args.reps)
    for rep in range(args.reps):
        for kind in args.kinds:
            for hosts in HOST_COUNTS:
                for key in rotated(list(chosen), rep + hosts):
                    measure(args, results, records, cluster, (rep, kind, hosts, key), chosen[key])
    return results


def measure(args: argparse.Namespace, results: Results, records: list, cluster: scale.Cluster,
            where: tuple, system: systems.System) -> None:
    rep, kind, hosts, key = where
    settle(1.0 if args.quick else 3.0)
    began = time.monotonic()
    label = f"[rep {rep + 1}/{args.reps}] {KINDS[kind]} · {hosts} host(s) · {key}"
    try:
        plan = scale.Drain(hosts, args.workers, kind, args.jobs[kind], 60.0 if args.quick else 300.0)
        figures = scale.drain(cluster, system, plan)
    except PhaseFailed as failure:
        results.fail(cell_key(key, hosts), rep, KINDS[kind], str(failure))
        records.append({"rep": rep + 1, "system": key, "hosts": hosts, "kind": kind, "error": str(failure)})
        progress(f"{label}: FAILED ({failure})")
        return
    results.put(cell_key(key, hosts), rep, {f"{kind}_{name}": value for name, value in figures.items()})
    records.append({"rep": rep + 1, "system": key, "hosts": hosts, "kind": kind, **figures})
    progress(f"{label}: steady {figures['steady_per_s']:,.0f} jobs/s, spawn→done {figures['spawn_per_s']:,.0f} "
             f"in {time.monotonic() - began:.1f} s")


# output -----------------------------------------------------------------------
def ideal(workers: int) -> float:
    return workers / 0.010


def table(results: Results, args: argparse.Namespace) -> list:
    titles = {"noop": "no-op jobs/s (steady · spawn→done)",
              "sleep10": "10 ms jobs/s (steady · % of ideal · spawn→done)"}
    columns = ["hosts", "workers"] + [f"{key} {titles[kind]}" for key in args.only for kind in args.kinds]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join([" ---: "] * len(columns)) + "|"]
    for hosts in HOST_COUNTS:
        workers = hosts * args.workers
        cells = [str(hosts), str(workers)]
        cells += [_cell(results, cell_key(key, hosts), kind, workers) for key in args.only for kind in args.kinds]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cell(results: Results, key: str, kind: str, workers: int) -> str:
    steady, spawn = (spread(results.series(key, f"{kind}_{name}"), rate) for name in ("steady_per_s", "spawn_per_s"))
    if kind == "noop":
        return f"{steady} · {spawn}"
    percent = [None if v is None else 100 * v / ideal(workers) for v in results.series(key, "sleep10_steady_per_s")]
    return f"{steady} · {spread(percent, lambda v: f'{v:.1f} %')} · {spawn}"


def ratio_lines(results: Results, shown: list, kinds: list) -> list:
    if shown != list(SYSTEMS):
        return []
    lines = ["gigqd ÷ pgqueuer at 3 hosts (taken per repetition; median (min–max)):"]
    for kind, title in ((kind, KINDS[kind]) for kind in kinds):
        name = f"{kind}_steady_per_s"
        ratios = results.ratios(("gigqd@3", name), ("pgqueuer@3", name))
        lines.append(f"  {title} jobs, steady: {spread(ratios, times)}")
    return lines


def growth_lines(results: Results, shown: list, kinds: list) -> list:
    """How the median steady rate moves from one host to the next, per system and kind."""
    lines = ["steady rate from 1 → 2 → 3 hosts, as a multiple of the 1-host median:"]
    for key in shown:
        for kind, title in ((kind, KINDS[kind]) for kind in kinds):
            medians = [results.median(cell_key(key, hosts), f"{kind}_steady_per_s") for hosts in HOST_COUNTS]
            if medians[0]:
                shown_growth = " → ".join("–" if m is None else f"{m / medians[0]:.2f}×" for m in medians)
                lines.append(f"  {key} {title}: {shown_growth}")
    return lines


def note_lines(results: Results) -> list:
    lines = [f"  FAILED rep {rep + 1} {key} {kind}: {message}" for rep, key, kind, message in results.failures]
    for key, problems in sorted(results.problems.items()):
        if problems:
            lines.append(f"  {key} logged {len(problems)} warning/error lines; first distinct ones:")
            lines += [f"    {line[:300]}" for line in list(dict.fromkeys(problems))[:3]]
    lines += [f"  {key}: {count} stop(s) needed SIGKILL"
              for key, count in sorted(results.forced_stops.items()) if count]
    lines += [f"  {key}: {count} job(s) started twice"
              for key, count in sorted(results.repeated_starts.items()) if count]
    return ["notes:"] + lines if lines else []


def header(args: argparse.Namespace, versions: dict, cluster: scale.Cluster) -> list:
    return [
        f"# Many hosts on one PostgreSQL: {args.noop_jobs:,} no-op and {args.sleep_jobs:,} 10 ms jobs per drain, "
        f"{args.reps} repetition(s)" + (" (--quick)" if args.quick else ""),
        "",
        "versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()),
        f"server: PostgreSQL {cluster.version()}, throwaway (fsync and synchronous_commit off), on the bridge of "
        f"{len(cluster.net.hosts)} test hosts (network namespaces), a fresh database per measurement",
        f"machine: {os.cpu_count()} CPUs shared by the server, every host's processes and this harness; "
        f"{platform.platform()}",
        "load average (1, 5, 15 min) at the start: " + ", ".join(f"{v:.2f}" for v in LOAD_AT_START)
        + "; at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + " (other work on the machine skews the figures)",
        f"per host: gigqd one daemon --workers {args.workers}; pgqueuer {args.workers} `pgq run` processes",
        "",
    ]


def legend(per_host: int) -> list:
    return ["Each cell: median (min–max) over the repetitions. steady: first job start → last job end, as the jobs",
            "recorded them; spawn→done: from starting the workers to the last job's end. Ideal for 10 ms jobs:",
            f"workers × 100 jobs/s ({', '.join(f'{ideal(h * per_host):.0f}' for h in HOST_COUNTS)} for 1, 2, 3 hosts)."]


def print_report(args: argparse.Namespace, versions: dict, cluster: scale.Cluster, results: Results,
                 elapsed: float) -> None:
    sections = [header(args, versions, cluster) + table(results, args), legend(args.workers),
                ratio_lines(results, args.only, args.kinds), growth_lines(results, args.only, args.kinds),
                note_lines(results), [f"total time {elapsed:.0f} s"]]
    print("\n\n".join("\n".join(lines) for lines in sections if lines), flush=True)


def main(argv: list) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("cluster_scale.py: needs root (it builds test hosts with ip netns and a bridge); run it as root",
              file=sys.stderr)
        return 2
    stop_on_sigterm()
    began = time.monotonic()
    try:
        chosen, versions = make_systems(args.only)
    except peers_venv.PeersVenvError as error:
        print(f"cluster_scale.py: cannot set up the peers' venv: {error}", file=sys.stderr)
        return 2
    records: list = []
    try:
        with scale.cluster(hosts=max(HOST_COUNTS)) as cluster:
            results = run(args, chosen, cluster, records)
            print_report(args, versions, cluster, results, time.monotonic() - began)
    except KeyboardInterrupt:
        print("cluster_scale.py: interrupted; the hosts and the server have been removed", file=sys.stderr)
        return 130
    if args.json_path:
        with open(args.json_path, "w") as output:
            raw = {"versions": versions, "reps": args.reps, "jobs": args.jobs, "measurements": records}
            json.dump(raw, output, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
