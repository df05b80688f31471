"""Gives back the jobs a worker claimed behind a job that turned out long.

A worker claims short jobs several at a time (runner.claim_size), sized so that the
batch runs in about HOLD_TARGET. One job of the batch may run far longer than the
others; the jobs behind it would wait for it while other workers sit idle (the
head-of-line blocking Celery's prefetch is known for). This thread watches the job
loop: once the running job has run HAND_BACK_AFTER and jobs wait behind it, it takes
them from the job loop (under the runner's lock, so the job loop can no longer start
them) and releases them, fenced and with their attempt untouched, for any worker.

It sleeps until the job loop starts a job with others waiting behind it, then looks
once HAND_BACK_AFTER later: at most a few wake-ups a second while jobs run in
batches, none while the worker is idle or runs one job at a time. It uses a store
connection of its own, opened the first time it is needed: the job loop's is busy
with the job's own work and is not shared across threads.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from gigq_client.execute import describe
from gigq_client.store import Store

from .runner import HAND_BACK_AFTER, JobRunner

REASON = f"held behind a job that ran longer than {HAND_BACK_AFTER:g} s"


class HandBack:
    def __init__(self, runner: JobRunner, open_store: Callable[[], Store], log: Any):
        self.runner, self.open_store, self.log = runner, open_store, log
        self.store: Store | None = None
        self.armed = threading.Event()
        runner.on_hold = self.arm

    def arm(self) -> None:
        if not self.armed.is_set():  # cheap when already armed: no wake-up per job
            self.armed.set()

    def start(self) -> None:
        threading.Thread(target=self._watch, name="gigqd-handback", daemon=True).start()

    def _watch(self) -> None:
        while True:
            self.armed.wait()
            self.armed.clear()
            time.sleep(HAND_BACK_AFTER)
            claims = self.runner.take_waiting_behind_long_job(time.monotonic())
            if claims:
                self._release(claims)

    def _release(self, claims: list) -> None:
        try:
            if self.store is None:
                self.store = self.open_store()
            released = self.store.release(claims)
        except Exception as error:  # noqa: BLE001 - whatever it was, the job loop releases them next
            self.log.error("store_write_failed", error=describe(error), retry_in="after the running job")
            self.runner.keep_for_release(claims)
            return
        if released < len(claims):  # fenced: a claim no longer ours (its job was requeued meanwhile)
            self.log.info("job_release_refused", jobs=len(claims) - released)
        for claim in claims:
            self.log.info("job_released", job_id=claim.job_id, attempt=claim.attempt, reason=REASON)
