"""Several OS processes claiming from one database at once never receive the same job."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.store.helpers import new_job

CLAIMER = """
import json, sys
sys.path.insert(0, {root!r})
from gigq_client.store import open_store
from tests.store.helpers import completed
store = open_store({path!r})
print("ready", flush=True)
sys.stdin.readline()  # start together: the first to start must not drain the queue alone
mine = []
while True:
    batch = store.claim("w-" + sys.argv[1], None, int(sys.argv[2]))
    if not batch:
        break
    mine.extend(job.job_id for job in batch)
    store.finish([completed(job) for job in batch])
print(json.dumps(mine))
"""


def test_processes_claiming_at_once_never_share_a_job(store, store_location):
    jobs = [new_job(f"j{i}") for i in range(2000)]
    store.enqueue(jobs)
    script = CLAIMER.format(root=ROOT, path=store_location)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(n), str(1 + n % 3)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    for proc in procs:
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        claimed.append(json.loads(out))
    everything = [job_id for ids in claimed for job_id in ids]
    assert len(everything) == len(set(everything)) == 2000
    assert sum(1 for ids in claimed if ids) >= 2, "the claims were not actually concurrent"
    assert store.stats()["completed"] == 2000
