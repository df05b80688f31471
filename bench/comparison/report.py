"""Turn the collected figures into the printed report: table, ratios, targets, notes.

`Results` holds, per system and figure, one value per repetition (None when that
repetition's measurement failed). Every cell is the median with (min–max) over the
repetitions; every ratio is taken per repetition (gigqd and the peer measured in the
same repetition), then summarised the same way.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import systems

LABELS = {"gigqd": "gigqd", "gigqd-batched": "gigqd, outcomes batched (opt-in)", "gigq": "gigq 0.5.1",
          "huey": "huey SqliteHuey", "raw": "raw (SQLite loop · no queue)"}
PEERS = ("gigq", "huey")


def ideal_sleep_rate() -> float:
    """jobs/s if every worker always ran a 10 ms job."""
    return systems.WORKERS / 0.010


@dataclass
class Results:
    reps: int
    values: dict = field(default_factory=dict)  # system -> figure -> [value or None per rep]
    failures: list = field(default_factory=list)  # (rep, system, phase, message)
    problems: dict = field(default_factory=dict)  # system -> [log lines, from every measurement]
    forced_stops: dict = field(default_factory=dict)  # system -> count of stops that needed SIGKILL
    repeated_starts: dict = field(default_factory=dict)  # system -> jobs that started twice

    def put(self, system: str, rep: int, figures: dict) -> None:
        for name, value in figures.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.values.setdefault(system, {}).setdefault(name, [None] * self.reps)[rep] = value
        self.problems.setdefault(system, []).extend(figures.get("log_problems", []))
        self.forced_stops[system] = self.forced_stops.get(system, 0) + bool(figures.get("forced_stop"))
        self.repeated_starts[system] = self.repeated_starts.get(system, 0) + figures.get("repeated_starts", 0)

    def fail(self, system: str, rep: int, phase: str, message: str) -> None:
        self.failures.append((rep, system, phase, message))

    def series(self, system: str, name: str) -> list:
        return self.values.get(system, {}).get(name, [None] * self.reps)

    def median(self, system: str, name: str) -> Optional[float]:
        ok = [v for v in self.series(system, name) if v is not None]
        return statistics.median(ok) if ok else None

    def ratios(self, top: tuple, bottom: tuple) -> list:
        """top ÷ bottom per repetition, each a (system, figure) pair."""
        pairs = zip(self.series(*top), self.series(*bottom))
        return [a / b for a, b in pairs if a is not None and b]


# number formats ---------------------------------------------------------------
def rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def millis(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def percent(value: float) -> str:
    return f"{value:.2f}"


def megabytes(value: float) -> str:
    return f"{value:.1f}"


def times(value: float) -> str:
    return f"{value:.2f}×"


def spread(values: list, fmt: Callable[[float], str]) -> str:
    """median (min–max) of the values that are there; "–" when none were measured."""
    ok = [v for v in values if v is not None]
    if not ok:
        return "failed" if len(values) else "–"
    text = fmt(statistics.median(ok))
    if len(ok) > 1:
        text += f" ({fmt(min(ok))}–{fmt(max(ok))})"
    if len(ok) < len(values):
        text += f" [{len(values) - len(ok)} failed]"
    return text


# the table --------------------------------------------------------------------
COLUMNS = [
    "system",
    "enqueue jobs/s (per call)",
    "submit_many jobs/s (call · with Job(...))",
    "drain no-op jobs/s (spawn→done · steady)",
    "drain 10 ms jobs/s (% of ideal)",
    "latency p50 · p99 ms",
    "idle CPU % of a core",
    "RSS supervisor · worker MB",
    "peak RSS in drain supervisor · worker MB",
]


def table(results: Results, systems: list) -> list:
    rows = [_row(results, key) for key in systems]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(COLUMNS) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _row(results: Results, key: str) -> list:
    cell = lambda name, fmt: _cell(results, key, name, fmt)  # noqa: E731
    pct = [None if v is None else 100 * v / ideal_sleep_rate() for v in results.series(key, "sleep_drain_steady_per_s")]
    sleep_cell = cell("sleep_drain_steady_per_s", rate) + " · " + spread(pct, lambda v: f"{v:.1f} %")
    if key == "raw":
        return [LABELS[key], cell("insert_per_s", rate) + " (insert only)", "–",
                cell("cycle_per_s", rate) + " (full cycle)", sleep_cell + " (no queue)", "–", "–", "–", "–"]
    if key == "gigqd-batched":
        return [LABELS[key], "–", "–", cell("drain_spawn_per_s", rate) + " · " + cell("drain_steady_per_s", rate),
                "–", "–", "–", "–", "– · " + cell("peak_rss_worker_mb", megabytes)]
    supervisor = "–" if key == "gigq" else cell("rss_supervisor_mb", megabytes)
    peak_supervisor = "–" if key == "gigq" else cell("peak_rss_supervisor_mb", megabytes)
    return [
        LABELS[key],
        cell("enqueue_per_s", rate),
        cell("many_per_s", rate) + " · " + cell("many_with_build_per_s", rate) if key == "gigqd" else "–",
        cell("drain_spawn_per_s", rate) + " · " + cell("drain_steady_per_s", rate),
        sleep_cell,
        cell("latency_p50_ms", millis) + " · " + cell("latency_p99_ms", millis),
        cell("idle_cpu_percent", percent),
        supervisor + " · " + cell("rss_worker_mb", megabytes),
        peak_supervisor + " · " + cell("peak_rss_worker_mb", megabytes),
    ]


def _cell(results: Results, key: str, name: str, fmt: Callable[[float], str]) -> str:
    return spread(results.series(key, name), fmt)


def contention_table(results: Results, plan) -> list:
    """The contention phase: per-submit times with the daemon draining, and without it."""
    cell = lambda name, fmt: _cell(results, "gigqd", name, fmt)  # noqa: E731
    if results.median("gigqd", "contended_p99_ms") is None:
        return []
    clients, jobs = plan.contention_clients, plan.contention_jobs

    def row(title: str, prefix: str, throughput: str) -> str:
        submits = " · ".join(cell(f"{prefix}_{name}_ms", millis) for name in ("p50", "p99", "max"))
        return (f"| {title} | {submits} | {cell(prefix + '_worst_client_p99_ms', millis)} | "
                f"{cell(prefix + '_errors', lambda v: f'{v:.0f}')} | {throughput} |")

    completed = cell("contended_completed", rate)
    return [
        f"contention: {clients} client processes × {jobs:,} submits each, one job per call ({clients * jobs:,} jobs)",
        "",
        "| gigqd | submit p50 · p99 · max ms | worst client's p99 ms | errors "
        "| jobs/s, first submit → last job's end |",
        "| --- | ---: | ---: | ---: | ---: |",
        row(f"while {systems.WORKERS} workers drain them ({completed} completed)", "contended",
            cell("contended_per_s", rate)),
        row("no daemon running, then the drain", "alone",
            cell("sequential_per_s", rate) + f" (drain alone {cell('drain_alone_per_s', rate)})"),
        "",
    ]


def legend() -> list:
    workers = systems.WORKERS
    return [
        "Each cell: median (min–max) over the repetitions. enqueue: one client process, one call per job,",
        f"no workers running. drain: N jobs enqueued first, then the {workers} worker processes started;",
        "spawn→done runs from starting the processes to the last job's end, steady from the first job's",
        f"start to the last job's end. 10 ms jobs: steady rate; ideal = {workers} workers × 100/s = "
        f"{ideal_sleep_rate():.0f} jobs/s.",
        "latency: job start − time.time() just before its submit call, jobs 20 ms apart on an idle pool.",
        "idle CPU: user+sys of the whole process tree once the latency jobs are done (the kernel counts it",
        "in 10 ms ticks per process: one tick over 5 s is 0.2 %). RSS: the same idle moment; worker = the",
        f"largest worker. gigq has no supervisor ({workers} separate `gigq worker` processes); huey's supervisor",
        "is the consumer process (its scheduler process counts in idle CPU only). Peak RSS: during the no-op drain.",
        "gigqd, outcomes batched: record_outcomes = \"batched\" (opt-in), outcomes committed with the next claim.",
        "submit_many: one call of N jobs in a fresh client process; with Job(...): counting the list",
        "comprehension that builds them. Every job has 4 params: a 40-character path, an int, two floats.",
        "enqueue beside a daemon (gigqd, not judged): the same enqueue with a daemon registered, so that",
        "each submit rings its doorbell socket, which nobody reads (every worker busy) or another process",
        "drains (a worker idle, waiting for work). The judged enqueue runs with no daemon, as for the peers.",
        "raw SQLite ceiling: 1 process, WAL, synchronous=NORMAL, BEGIN IMMEDIATE per operation;",
        "full cycle = insert + claim + complete (3 commits) per job. Its 10 ms cell is the floor: the same",
        f"job function called back to back by {workers} processes with no queue at all.",
    ]


# ratios and targets -----------------------------------------------------------
def ratio_lines(results: Results, systems: list) -> list:
    lines = ["ratios (gigqd ÷ other, taken per repetition; median (min–max)):"]
    figures = [("enqueue per call", "enqueue_per_s"), ("drain no-op, steady", "drain_steady_per_s"),
               ("drain 10 ms jobs", "sleep_drain_steady_per_s")]
    for title, name in figures:
        parts = [f"÷ {LABELS[peer]} {spread(results.ratios(('gigqd', name), (peer, name)), times)}"
                 for peer in PEERS if peer in systems]
        if parts:
            lines.append(f"  {title:<22} " + ", ".join(parts))
    if "raw" in systems:
        lines.append(f"  {'enqueue per call':<22} ÷ raw SQLite insert "
                     f"{spread(results.ratios(('gigqd', 'enqueue_per_s'), ('raw', 'insert_per_s')), times)}")
        lines += _beside_daemon_lines(results)
        steady, cycle = "drain_steady_per_s", ("raw", "cycle_per_s")
        lines.append(f"  {'drain no-op, steady':<22} ÷ raw SQLite full cycle "
                     f"{spread(results.ratios(('gigqd', steady), cycle), times)}, "
                     f"outcomes batched {spread(results.ratios(('gigqd-batched', steady), cycle), times)}")
        sleeping = "sleep_drain_steady_per_s"
        lines.append(f"  {'drain 10 ms jobs':<22} ÷ no queue at all "
                     f"{spread(results.ratios(('gigqd', sleeping), ('raw', sleeping)), times)}")
    lines.append(f"  {'latency':<22} p50 {_cell(results, 'gigqd', 'latency_p50_ms', millis)} ms (target ≤ 2 ms), "
                 f"p99 {_cell(results, 'gigqd', 'latency_p99_ms', millis)} ms (target ≤ 10 ms)")
    return lines


def _beside_daemon_lines(results: Results) -> list:
    """The one-per-call enqueue with a daemon registered (each submit rings its doorbell),
    next to the raw insert loop: what a submit costs while gigqd runs (not judged)."""
    lines = []
    for pool, title in (("busy", "every worker busy"), ("idle", "a worker idle")):
        name = f"enqueue_{pool}_daemon_per_s"
        if results.median("gigqd", name) is not None:
            to_raw = spread(results.ratios(("gigqd", name), ("raw", "insert_per_s")), times)
            lines.append(f"  {'  beside a daemon,':<22} {title}: {_cell(results, 'gigqd', name, rate)} jobs/s, "
                         f"÷ raw SQLite insert {to_raw}")
    return lines


@dataclass
class Target:
    title: str
    measured: Optional[float]
    met: Callable[[float], bool]
    fmt: Callable[[float], str]


def targets(results: Results) -> list:
    ratio = lambda name, peer, peer_name=None, mine="gigqd": _median(  # noqa: E731
        results.ratios((mine, name), (peer, peer_name or name)))
    mine = lambda name: results.median("gigqd", name)  # noqa: E731
    sleep = mine("sleep_drain_steady_per_s")
    errors, completed, submitted = mine("contended_errors"), mine("contended_completed"), mine("contended_submitted")
    lost = None if completed is None else errors + submitted - completed
    ms = lambda v: f"{millis(v)} ms"  # noqa: E731
    return [
        Target("drain no-op, per-job outcomes ≥ 4× huey", ratio("drain_steady_per_s", "huey"), lambda v: v >= 4, times),
        Target("drain no-op, per-job outcomes ≥ 1× raw full cycle", ratio("drain_steady_per_s", "raw", "cycle_per_s"),
               lambda v: v >= 1, times),
        Target("drain no-op, outcomes batched ≥ 1.3× raw full cycle",
               ratio("drain_steady_per_s", "raw", "cycle_per_s", mine="gigqd-batched"), lambda v: v >= 1.3, times),
        Target("enqueue per call ≥ 3× gigq 0.5.1", ratio("enqueue_per_s", "gigq"), lambda v: v >= 3, times),
        Target("enqueue per call ≥ 3× huey", ratio("enqueue_per_s", "huey"), lambda v: v >= 3, times),
        Target("enqueue per call ≥ 50% of raw SQLite insert", _pct(ratio("enqueue_per_s", "raw", "insert_per_s")),
               lambda v: v >= 50, lambda v: f"{v:.0f} %"),
        Target("submit_many (call) ≥ 100,000 jobs/s", mine("many_per_s"), lambda v: v >= 100_000,
               lambda v: f"{rate(v)} jobs/s"),
        Target("submit_many with Job(...) ≥ 80,000 jobs/s", mine("many_with_build_per_s"), lambda v: v >= 80_000,
               lambda v: f"{rate(v)} jobs/s"),
        Target("contention: submit p99 ≤ 20 ms", mine("contended_p99_ms"), lambda v: v <= 20, ms),
        Target("contention: slowest submit ≤ 100 ms", mine("contended_max_ms"), lambda v: v <= 100, ms),
        Target("contention: 0 errors, every job completed", lost, lambda v: v == 0,
               lambda v: f"{v:.0f} errors or jobs missing"),
        Target("contention: no loss of throughput", mine("contended_vs_sequential"), lambda v: v >= 1,
               lambda v: f"{times(v)} submitting, then draining"),
        Target("latency p50 ≤ 2 ms", mine("latency_p50_ms"), lambda v: v <= 2, ms),
        Target("latency p99 ≤ 10 ms", mine("latency_p99_ms"), lambda v: v <= 10, ms),
        Target("10 ms jobs ≥ 97% of ideal", None if sleep is None else 100 * sleep / ideal_sleep_rate(),
               lambda v: v >= 97, lambda v: f"{v:.1f} %"),
        Target("idle CPU < 1% of one core", mine("idle_cpu_percent"), lambda v: v < 1, lambda v: f"{percent(v)} %"),
        Target("one worker's RSS ≤ 30 MB (idle)", mine("rss_worker_mb"), lambda v: v <= 30,
               lambda v: f"{megabytes(v)} MB"),
    ]


def _pct(value: Optional[float]) -> Optional[float]:
    return None if value is None else 100 * value


def target_lines(results: Results) -> list:
    lines = ["targets (gigqd, medians of this run):"]
    for target in targets(results):
        if target.measured is None:
            verdict, measured = "NOT MEASURED", "–"
        else:
            verdict, measured = ("MET" if target.met(target.measured) else "NOT MET"), target.fmt(target.measured)
        lines.append(f"  {verdict:<12} {target.title:<54} measured {measured}")
    floor = results.median("raw", "sleep_drain_steady_per_s")
    if floor is not None:
        lines.append(f"  {'':<12} ({floor_sentence(floor)})")
    return lines


def floor_sentence(floor: float) -> str:
    """What the no-queue floor of the 10 ms drain leaves a queue for the 97 % target."""
    per_job_us = lambda jobs_per_s: systems.WORKERS / jobs_per_s * 1e6  # noqa: E731
    room = per_job_us(0.97 * ideal_sleep_rate()) - per_job_us(floor)
    leaves = (f"which leaves a queue {room:.0f} µs per job for 97 %" if room > 0
              else "already under 97 %: no queue can reach 97 % in this run")
    return f"10 ms jobs with no queue at all: {100 * floor / ideal_sleep_rate():.1f} % of ideal, {leaves}"


def _median(values: list) -> Optional[float]:
    return statistics.median(values) if values else None


# notes ------------------------------------------------------------------------
def note_lines(results: Results, systems: list) -> list:
    lines = []
    for rep, system, phase, message in results.failures:
        lines.append(f"  FAILED rep {rep + 1} {LABELS[system]} {phase}: {message}")
    for system in systems:
        problems = results.problems.get(system, [])
        if problems:
            lines.append(f"  {LABELS[system]} logged {len(problems)} warning/error lines; first distinct ones:")
            for line in list(dict.fromkeys(problems))[:5]:
                lines.append(f"    {line[:300]}")
        if results.forced_stops.get(system):
            lines.append(f"  {LABELS[system]}: {results.forced_stops[system]} stop(s) needed SIGKILL "
                         "after SIGTERM + grace")
        if results.repeated_starts.get(system):
            lines.append(f"  {LABELS[system]}: {results.repeated_starts[system]} job(s) started more than once")
    for system in systems:
        if system != "raw" and results.median(system, "gap_p50_ms") is not None:
            sleep = (f", 10 ms drain {_gaps(results, system, 'sleep_')}"
                     if results.median(system, "sleep_gap_p50_ms") is not None else "")
            lines.append(f"  {LABELS[system]}: gap in a worker between one job's end and the next one's start, "
                         f"p50 · p99 ms, then how far apart the workers' last jobs ended (ms): no-op drain "
                         f"{_gaps(results, system, '')}{sleep}")
    return ["notes:"] + lines if lines else []


def _gaps(results: Results, system: str, prefix: str) -> str:
    return (_cell(results, system, prefix + "gap_p50_ms", millis) + " · "
            + _cell(results, system, prefix + "gap_p99_ms", millis) + " · end skew "
            + _cell(results, system, prefix + "end_skew_ms", millis))
