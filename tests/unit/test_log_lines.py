"""Processes that share one log file (the supervisor and its workers do) never split a line.

With PYTHONUNBUFFERED=1 (the usual setting in container images) stderr writes through
at once; a logger that writes the message and its newline in two calls then lets another
process's line land between them, and both lines stop being JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

WRITER = """
import sys
from gigqd import logs
logs.configure("json", "info")
log = logs.get_logger(writer=int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    log.info("job_completed", i=i, padding="x" * 200)
"""


def test_four_processes_logging_into_one_file_write_whole_lines(tmp_path):
    path, writers, lines_each = tmp_path / "shared.log", 4, 3000
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    with open(path, "ab") as shared:  # O_APPEND, as a service's log file or a redirect with >>
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(n), str(lines_each)], stderr=shared, env=env)
                 for n in range(writers)]
        assert [p.wait(timeout=120) for p in procs] == [0] * writers
    lines = path.read_text().splitlines()
    broken = [line for line in lines if not _is_json(line)]
    assert broken == [] and len(lines) == writers * lines_each


def _is_json(line: str) -> bool:
    try:
        return json.loads(line)["event"] == "job_completed"
    except (ValueError, KeyError, TypeError):
        return False
