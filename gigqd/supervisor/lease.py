"""This daemon's lease in the store: registered at start, renewed on a timer, and the fence.

On a store that several machines share (PostgreSQL), a daemon whose lease runs out
has its running jobs requeued by another daemon. So before that can happen, this
one stops them: from the fence on (see watchdog.fence_at), workers start nothing,
the supervisor kills running jobs, and workers kill their own job a little later if
the supervisor could not. A later renewal lifts the fence. On a store on one
machine (SQLite) a daemon's workers are judged by their pids, so there is no fence.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from gigq_client import GigqError
from gigq_client.store import DaemonInfo, Store

from ..board import Board
from ..settings import Settings
from . import watchdog


class LeaseKeeper:
    def __init__(self, store: Store, describe: Callable[[], DaemonInfo], settings: Callable[[], Settings],
                 board: Board, log: Any):
        self.store, self.describe, self.settings, self.board, self.log = store, describe, settings, board, log
        self.fencing = store.crosses_machines
        self.lost = False  # the fence was passed, and no renewal has lifted it yet

    def register(self) -> None:
        """Record this daemon and start its lease (a store error is raised: start-up fails)."""
        sent = time.monotonic()
        self.store.register_daemon(self.describe(), self.settings().lease)
        self._renewed(sent)

    def renew(self) -> Optional[float]:
        """The timer's duty: renew, or register again if our record was removed. On a
        failure, try again soon; the fence, not this, decides when jobs must stop."""
        settings, sent = self.settings(), time.monotonic()
        try:
            if not self.store.renew_lease(self.describe().id, settings.lease):
                self.log.warning("lease_renewal_failed", reason="this daemon was not registered; registering again")
                self.store.register_daemon(self.describe(), settings.lease)
        except GigqError as error:
            self.log.error("lease_renewal_failed", error=str(error),
                           fence_in=round(self.board.fence_at - time.monotonic(), 1) if self.fencing else None)
            return watchdog.lease_retry_delay(settings.lease)
        self._renewed(sent)
        return None

    def fenced(self, now: float) -> bool:
        """Whether no job of ours may run now; logs the moment it starts to hold."""
        if not self.fencing or now < self.board.fence_at:
            return False
        if not self.lost:
            self.lost = True
            self.log.error("lease_lapsed", reason="the lease could not be renewed in time; stopping every running job "
                           "before it runs out, starting none")
        return True

    def seconds_to_fence(self, now: float) -> Optional[float]:
        return max(0.0, self.board.fence_at - now) if self.fencing and not self.lost else None

    def _renewed(self, sent: float) -> None:
        if not self.fencing:
            return
        settings = self.settings()
        self.board.fence(watchdog.fence_at(sent, settings.lease, settings.kill_grace, settings.heartbeat_interval))
        if self.lost:
            self.lost = False
            self.log.info("lease_regained")
