"""Which processes are the chaos run's, and leaving none of them behind."""

from __future__ import annotations

import os
import subprocess
import time

import psutil

from .processes import alive, quietly


class ProcessTracking:
    """The process half of ChaosRun (tests/chaos/chaos.py), which supplies the daemon, its
    folder, the clients and supervisors it started and the workers it has seen."""

    def _workers(self) -> list[psutil.Process]:
        """The live worker processes of the current supervisor (remembered for the clean-up)."""
        try:
            children = psutil.Process(self.daemon.process.pid).children()
        except psutil.Error:
            return []
        found = []
        for child in children:
            try:
                if "worker" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
                    self.seen.setdefault(child.pid, child)
            except psutil.Error:
                pass
        return found

    def _daemon_processes(self) -> list[psutil.Process]:
        """Every live process working in our folder: supervisors and workers, including workers forked
        in the instant before their supervisor was killed, which `_workers` may never have seen."""
        folder = os.path.realpath(self.folder)
        found = []
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.cwd() == folder and alive(process):
                    found.append(process)
            except psutil.Error:
                pass
        return found

    def _wait_dead(self, processes: list[psutil.Process], limit: float) -> bool:
        until = time.monotonic() + limit
        while any(alive(p) for p in processes):
            if time.monotonic() > until:
                return False
            time.sleep(0.02)
        return True

    def _clean_up(self) -> None:
        """Leave nothing behind: clients, every supervisor, every worker ever seen, whole trees."""
        if self.stopped is not None:
            quietly(self.stopped.resume)
        doomed: list[psutil.Process] = []
        for popen in [*self.clients, *self.supervisors]:
            if popen.poll() is None:
                try:
                    process = psutil.Process(popen.pid)
                    doomed += [process, *process.children(recursive=True)]
                except psutil.Error:
                    pass
        for process in [*self.seen.values(), *self._daemon_processes()]:
            if alive(process):
                doomed.append(process)
                try:
                    doomed += process.children(recursive=True)
                except psutil.Error:
                    pass
        for process in doomed:
            quietly(process.resume)
            quietly(process.kill)
        psutil.wait_procs(doomed, timeout=10)
        for popen in [*self.clients, *self.supervisors]:
            try:
                popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.daemon.kill_everything()  # closes its log handle as well
        if self.queue is not None:
            self.queue.close()
        left = sorted({p.pid for p in [*self.seen.values(), *self._daemon_processes()] if alive(p)})
        if left:
            self.report.problems.append(f"processes still alive after the clean-up: {left}")
