"""Every log event gigqd emits is named in the catalogue, in the past tense."""

from __future__ import annotations

import re
from pathlib import Path

from gigqd.logs import EVENTS

ROOT = Path(__file__).resolve().parents[2]
EMIT = re.compile(r"""\.(?:debug|info|warning|error|exception|critical)\(\s*["']([a-z_]+)["']""")


def emitted_events() -> set[str]:
    found = set()
    for path in (ROOT / "gigqd").rglob("*.py"):
        found |= set(EMIT.findall(path.read_text()))
    return found


def test_every_emitted_event_is_in_the_catalogue():
    assert emitted_events() - EVENTS == set()


def test_catalogue_names_are_past_tense():
    not_past = [name for name in EVENTS if not re.search(r"(ed|_timed_out|_hung)$", name)]
    assert not_past == []


def test_the_scan_finds_events():
    assert {"daemon_started", "worker_spawned", "job_failed"} <= emitted_events()
