"""The printed report: table, ratios, targets, notes (comparison.report's Results and formats).

Every cell is the median with (min–max) over the repetitions; every ratio is taken per
repetition (gigqd and the peer measured in the same repetition), then summarised the
same way; a target is judged on the median ratio.
"""

from __future__ import annotations

import statistics
from typing import Optional

from comparison.report import Results, millis, rate, spread, times

from . import systems

ORDER = ("gigqd", "pgqueuer", "procrastinate", "gigqd-batched")
PEERS = ("pgqueuer", "procrastinate")
LABELS = {"gigqd": "gigqd (PostgreSQL)", "pgqueuer": "pgqueuer", "procrastinate": "procrastinate",
          "gigqd-batched": "gigqd, record_outcomes = batched (not the default)"}
COLUMNS = ["system", "enqueue jobs/s (one per call)", "bulk enqueue jobs/s", "drain no-op jobs/s (spawn→done · steady)",
           "drain 10 ms jobs/s (% of ideal)", "latency p50 · p99 ms"]
# (title, figure): gigqd must reach at least TIMES x each peer's figure.
RATIO_FIGURES = [("enqueue, one per call", "enqueue_per_s"), ("bulk enqueue", "bulk_per_s"),
                 ("drain no-op, steady", "drain_steady_per_s"), ("drain 10 ms jobs", "sleep_drain_steady_per_s")]
TIMES = 2.0
LATENCY_P50_MS = 5.0


def ideal_sleep_rate() -> float:
    return systems.WORKERS / 0.010


def table(results: Results, shown: list) -> list:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(COLUMNS) - 1)) + "|"]
    return lines + ["| " + " | ".join(_row(results, key)) + " |" for key in shown]


def _row(results: Results, key: str) -> list:
    cell = lambda name, fmt: spread(results.series(key, name), fmt)  # noqa: E731
    pct = [None if v is None else 100 * v / ideal_sleep_rate() for v in results.series(key, "sleep_drain_steady_per_s")]
    return [
        LABELS[key],
        cell("enqueue_per_s", rate),
        cell("bulk_per_s", rate),
        cell("drain_spawn_per_s", rate) + " · " + cell("drain_steady_per_s", rate),
        cell("sleep_drain_steady_per_s", rate) + " · " + spread(pct, lambda v: f"{v:.1f} %"),
        cell("latency_p50_ms", millis) + " · " + cell("latency_p99_ms", millis),
    ]


def legend(plan) -> list:
    workers = systems.WORKERS
    return [
        "Each cell: median (min–max) over the repetitions. enqueue: one client process, one call per job, each",
        "awaited before the next, no workers running (gigqd's daemon registered, so its submits notify as",
        "pgqueuer's do); bulk: the system's batch call for all the jobs at once.",
        f"drain: the jobs enqueued first, then {workers} worker processes started; spawn→done runs from starting the",
        "processes to the last job's end, steady from the first job's start to the last job's end, both as the",
        f"jobs themselves recorded them. 10 ms jobs: steady rate; ideal = {workers} workers × 100/s = "
        f"{ideal_sleep_rate():.0f} jobs/s.",
        f"latency: job start − time.time() just before its submit call, {plan.latency_jobs} jobs "
        f"{plan.latency_interval * 1000:g} ms apart on a pool idle for {plan.idle_seconds:g} s.",
    ]


def ratio_lines(results: Results, shown: list) -> list:
    lines = ["ratios (gigqd ÷ peer, taken per repetition; median (min–max)):"]
    for title, name in RATIO_FIGURES:
        parts = [f"÷ {LABELS[peer]} {spread(results.ratios(('gigqd', name), (peer, name)), times)}"
                 for peer in PEERS if peer in shown]
        if parts:
            lines.append(f"  {title:<22} " + ", ".join(parts))
    return lines


def target_lines(results: Results, shown: list) -> list:
    lines = ["targets (gigqd, medians of this run):"]
    for title, name in RATIO_FIGURES:
        for peer in (p for p in PEERS if p in shown):
            measured = _median(results.ratios(("gigqd", name), (peer, name)))
            lines.append(_verdict(f"{title} ≥ {TIMES:g}× {LABELS[peer]}", measured, measured is not None
                                  and measured >= TIMES, times))
    p50 = results.median("gigqd", "latency_p50_ms")
    lines.append(_verdict(f"latency p50 ≤ {LATENCY_P50_MS:g} ms on an idle pool", p50,
                          p50 is not None and p50 <= LATENCY_P50_MS, lambda v: f"{millis(v)} ms"))
    best_peer = max((results.median(p, "sleep_drain_steady_per_s") or 0 for p in PEERS if p in shown), default=0)
    if best_peer > ideal_sleep_rate() / TIMES:
        lines.append(f"  {'':<12} (10 ms jobs: a peer at {rate(best_peer)} jobs/s leaves no room for {TIMES:g}×: "
                     f"{TIMES:g}× would be {rate(TIMES * best_peer)}, above the ideal {ideal_sleep_rate():.0f})")
    return lines


def _verdict(title: str, measured: Optional[float], met: bool, fmt) -> str:
    if measured is None:
        return f"  {'NOT MEASURED':<12} {title:<52} measured –"
    return f"  {'MET' if met else 'NOT MET':<12} {title:<52} measured {fmt(measured)}"


def _median(values: list) -> Optional[float]:
    return statistics.median(values) if values else None


def note_lines(results: Results, shown: list) -> list:
    lines = [f"  FAILED rep {rep + 1} {LABELS[system]} {phase}: {message}"
             for rep, system, phase, message in results.failures]
    for system in shown:
        problems = results.problems.get(system, [])
        if problems:
            lines.append(f"  {LABELS[system]} logged {len(problems)} warning/error lines; first distinct ones:")
            lines += [f"    {line[:300]}" for line in list(dict.fromkeys(problems))[:5]]
        if results.forced_stops.get(system):
            lines.append(f"  {LABELS[system]}: {results.forced_stops[system]} stop(s) needed SIGKILL "
                         "after SIGTERM + grace")
        if results.repeated_starts.get(system):
            lines.append(f"  {LABELS[system]}: {results.repeated_starts[system]} job(s) started more than once")
    for system in shown:
        if results.median(system, "gap_p50_ms") is not None:
            lines.append(f"  {LABELS[system]}: gap in a worker between one job's end and the next one's start, "
                         f"p50 · p99 ms, and how far apart the workers' last jobs ended (ms): "
                         f"no-op drain {_gaps(results, system, '')}, 10 ms drain {_gaps(results, system, 'sleep_')}")
    return ["notes:"] + lines if lines else []


def _gaps(results: Results, system: str, prefix: str) -> str:
    cell = lambda name: spread(results.series(system, prefix + name), millis)  # noqa: E731
    return f"{cell('gap_p50_ms')} · {cell('gap_p99_ms')} · end skew {cell('end_skew_ms')}"
