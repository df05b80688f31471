"""The verdict of a cluster run: every submitted job against the database and the job log."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from typing import Any

from gigq_client import JobQueue
from gigq_client.jobs import FINAL_STATUSES


def analyse(run: Any, seconds: float) -> dict[str, Any]:
    tokens, problems = _submitted(run.outputs)
    starts, ends, overlaps = _runs(run.job_log)
    violations: list[str] = []
    with JobQueue(run.local_url) as queue:
        statuses = {token: queue.get_status(job_id) for token, job_id in tokens.items()}
        total = queue.stats()["total"]
    lost = [t for t, s in statuses.items() if s.get("exists") is False or s["status"] not in FINAL_STATUSES]
    twice = [t for t, s in statuses.items() if s.get("exists") is not False
             and sum(e["status"] == "completed" for e in s["executions"]) > 1]
    not_completed = [t for t, s in statuses.items() if s.get("status") != "completed" and t not in lost]
    violations += [f"LOST or STUCK: {t} {statuses[t].get('status')}" for t in lost]
    violations += [f"COMPLETED TWICE: {t} {statuses[t]['executions']}" for t in twice]
    violations += [f"RAN ON TWO HOSTS AT ONCE: {t}: {starts[t]}" for t in overlaps]
    if total != len(tokens):
        violations.append(f"the database holds {total} jobs, the clients submitted {len(tokens)}")
    problems += [f"NOT COMPLETED: {t} {statuses[t].get('status')} {statuses[t].get('error')}" for t in not_completed]
    problems += _faults_that_did_not_show(run)
    figures = {
        "jobs": len(tokens), "runs": sum(len(v) for v in starts.values()), "lost": len(lost),
        "completed_twice": len(twice), "ran_on_two_hosts_at_once": len(overlaps), "not_completed": len(not_completed),
        "jobs_run_again": sum(1 for v in starts.values() if len(v) > 1), "seconds": round(seconds, 1),
        "faults": [f"{f.kind} {f.host}" for f in run.faults], **_takeover_latencies(run, starts, ends),
    }
    return {"figures": figures, "violations": violations, "problems": problems,
            "table": _table(figures, violations, problems, run)}


def _submitted(outputs: list) -> tuple[dict[str, str], list[str]]:
    tokens: dict[str, str] = {}
    problems = []
    for index, path in enumerate(outputs):
        lines = path.read_text().splitlines() if path.exists() else []
        if not lines or lines[-1] != "#done":
            problems.append(f"client {index} did not finish submitting ({len(lines)} lines)")
        for line in lines:
            if not line.startswith("#"):
                token, job_id = line.split()
                tokens[token] = job_id
    return tokens, problems


def _runs(log) -> tuple[dict[str, list], dict[str, list], set[str]]:
    """token -> [(host, pid, start)], token -> [(host, pid, end)], tokens whose lock was held by another run."""
    starts: dict[str, list] = defaultdict(list)
    ends: dict[str, list] = defaultdict(list)
    overlaps = set()
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split()
        if parts[0] == "S":
            starts[parts[1]].append((parts[2], int(parts[3]), float(parts[4])))
            if parts[5] == "1":
                overlaps.add(parts[1])
        elif parts[0] == "E":
            ends[parts[1]].append((parts[2], int(parts[3]), float(parts[4])))
    return starts, ends, overlaps


def _takeover_latencies(run: Any, starts: dict, ends: dict) -> dict[str, Any]:
    """For each host that died or was cut off: its jobs in flight, and how long until each ran
    again: anywhere after a kill (the host boots again with a new daemon, and may be the one
    that takes its old jobs up, when every worker elsewhere is busy), elsewhere after a cut
    (the cut-off host may still be running them, fenced)."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for fault in run.faults:
        if fault.kind not in ("kill_host", "cut_host"):
            continue
        caught = [token for token, runs in starts.items()
                  if any(host == fault.host and at < fault.at and _alive_at(fault.at, token, host, pid, at, runs, ends)
                         for host, pid, at in runs)]
        anywhere = fault.kind == "kill_host"
        later = [[at for host, _, at in starts[t] if (anywhere or host != fault.host) and at > fault.at]
                 for t in caught]
        fault.notes["jobs_caught"] = len(caught)
        by_kind[fault.kind] += [min(runs) - fault.at for runs in later if runs]
    figures = {}
    for kind, delays in by_kind.items():
        if delays:
            figures[f"{kind}_to_rerun_p50"] = round(statistics.median(delays), 2)
            figures[f"{kind}_to_rerun_max"] = round(max(delays), 2)
    return figures


def _alive_at(moment: float, token: str, host: str, pid: int, started: float, runs: list, ends: dict) -> bool:
    """A run in flight at `moment`: not ended by then (a cut-off host may still finish it later, its
    outcome refused), and followed by no later run of the job (already a takeover) before `moment`."""
    ended = any(h == host and p == pid and started <= at < moment for h, p, at in ends.get(token, []))
    return not ended and not any(started < at < moment for _, _, at in runs)


def _faults_that_did_not_show(run: Any) -> list[str]:
    """A cut host must have stopped its jobs (lease_lapsed) and come back (lease_regained)."""
    problems = []
    for fault in run.faults:
        if fault.kind != "cut_host":
            continue
        events = _events(run.folder / fault.host / "gigqd.log")
        if "lease_lapsed" not in events or "lease_regained" not in events:
            logged = sorted(e for e in ("lease_lapsed", "lease_regained") if e in events)
            problems.append(f"{fault.host} was cut off but logged {logged}")
        fault.notes["outcomes_refused"] = events.get("job_outcome_refused", 0)
    return problems


def _events(path) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            counts[json.loads(line).get("event")] += 1
        except (ValueError, AttributeError):
            pass
    return counts


def _table(figures: dict, violations: list, problems: list, run: Any) -> str:
    rows = [(name.replace("_", " "), value) for name, value in figures.items() if name != "faults"]
    width = max(len(name) for name, _ in rows)
    lines = [f"cluster run in {run.folder} (seed {run.plan.seed})"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines += [f"  fault: {f.kind} {f.host} {f.notes}" for f in run.faults]
    for title, items in (("VIOLATIONS", violations), ("PROBLEMS", problems)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += ["  - " + item for item in items[:30]]
    return "\n".join(lines)
