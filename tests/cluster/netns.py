"""Test hosts on one machine: each in namespaces of its own (network, on a bridge; pids;
hostname), so that to gigqd they are different machines.

    with Network(hosts=3) as net:            # root only (ip netns, veth, a bridge)
        net.address                          # the bridge's address: where the database listens
        proc = net.hosts[0].start([...])     # a process inside host 1, hostname "gq-h1"
        net.hosts[1].cut(); net.hosts[1].restore()   # pull its cable out, and back in
        net.hosts[2].kill_everything()       # kill -9 every process of the host at once

Every namespace, link and process made here is removed on exit, even when the test
failed; names carry a per-run tag, and leftovers of an earlier run that was killed
before it could clean up are removed at start. Traffic stays on the bridge.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from gigq_client import fdwait

PREFIX = "gq"  # every name made here starts with it, so a clean-up finds them all
OWNERS = "/run/gigq-test-netns"  # <tag> -> pid of the test process that made that network


# The host's pid 1: names the host, then reaps orphans until it is killed.
_INIT = ("import os, signal, socket, sys\nsocket.sethostname(sys.argv[1])\nprint('named', flush=True)\n"
         "signal.signal(signal.SIGCHLD, lambda *_: None)\n"
         "while True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        signal.pause()\n")


def _wait_for_child(parent: int, timeout: float = 10.0) -> int:
    """The pid (root namespace) of the init that unshare --fork starts under `parent`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                children = handle.read().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise RuntimeError(f"the host's init did not start under pid {parent}")


def _wait_until_named(init: subprocess.Popen, timeout: float = 10.0) -> None:
    """Wait for the init's line saying it has set the host's name."""
    try:
        ready = fdwait.readable(init.stdout.fileno(), timeout)
        said = init.stdout.readline().decode(errors="replace").strip() if ready else ""
    finally:
        init.stdout.close()  # one line is all it says: the pipe would stay open in the test process
    if said != "named":
        raise RuntimeError(f"the host's init did not name its host within {timeout:g} s: {said!r}")


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


@dataclass
class Host:
    name: str  # namespace name, also the hostname inside
    hostname: str
    address: str
    link: str  # the bridge end of its veth pair: down = cable pulled
    processes: list[subprocess.Popen] = field(default_factory=list)
    init_pid: int = 0  # its init process, as the root namespace numbers it

    def boot(self) -> None:
        """Start the host: a small init process in its own network, pid, mount and UTS
        namespaces, so its processes see only each other's pids (as on a machine of its
        own) and its own hostname. Every later start() joins these namespaces."""
        init = self.start_raw(["ip", "netns", "exec", self.name, "unshare", "--uts", "--pid", "--mount", "--fork",
                               "--mount-proc", sys.executable, "-c", _INIT, self.hostname], stdout=subprocess.PIPE)
        _wait_until_named(init)  # a process started before would still see the machine's own hostname
        self.init_pid = _wait_for_child(init.pid)

    def start(self, argv: list[str], env: Optional[dict] = None, cwd: Optional[str] = None,
              stdout=None) -> subprocess.Popen:
        """Run `argv` on this host (its namespaces: network, pids, hostname)."""
        if not self.init_pid:
            self.boot()
        wrapped = ["nsenter", "--target", str(self.init_pid), "--net", "--pid", "--mount", "--uts", "--", *argv]
        return self.start_raw(wrapped, env, cwd, stdout)

    def start_raw(self, argv: list[str], env: Optional[dict] = None, cwd: Optional[str] = None,
                  stdout=None) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def signal(self, process: subprocess.Popen, signum: int) -> None:
        """Signal what start() ran, not the nsenter in front of it (which does not pass signals on)."""
        os.kill(_wait_for_child(process.pid), signum)

    def pids(self) -> list[int]:
        """Every process living in this host's network namespace."""
        listed = run("ip", "netns", "pids", self.name, check=False).stdout.split()
        return [int(pid) for pid in listed if pid.isdigit()]

    def kill_everything(self) -> list[int]:
        """kill -9 every process of the host at once, as when the machine dies (boot() it again after)."""
        pids = self.pids()
        self.init_pid = 0
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return pids

    def cut(self) -> None:
        run("ip", "link", "set", self.link, "down")

    def restore(self) -> None:
        run("ip", "link", "set", self.link, "up")


class Network:
    def __init__(self, hosts: int = 3):
        self.tag = f"{random.randrange(16**4):04x}"
        subnet = random.randrange(64, 250)
        self.bridge = f"{PREFIX}{self.tag}br"
        self.address = f"10.{subnet}.0.1"
        self.hosts = [
            Host(f"{PREFIX}{self.tag}h{i}", f"gq-h{i}", f"10.{subnet}.0.{10 + i}", f"{PREFIX}{self.tag}v{i}")
            for i in range(1, hosts + 1)
        ]

    def __enter__(self) -> "Network":
        remove_leftovers()
        os.makedirs(OWNERS, exist_ok=True)
        with open(os.path.join(OWNERS, self.tag), "w") as owner:
            owner.write(str(os.getpid()))
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _build(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.address}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for host in self.hosts:
            inner = host.link + "p"
            run("ip", "netns", "add", host.name)
            run("ip", "link", "add", host.link, "type", "veth", "peer", "name", inner)
            run("ip", "link", "set", inner, "netns", host.name)
            run("ip", "link", "set", host.link, "master", self.bridge)
            run("ip", "link", "set", host.link, "up")
            inside = ("ip", "netns", "exec", host.name)
            run(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", inner)
            run(*inside, "ip", "link", "set", inner, "up")
            run(*inside, "ip", "link", "set", "lo", "up")

    def close(self) -> None:
        for host in self.hosts:
            if os.path.exists(f"/run/netns/{host.name}"):
                host.kill_everything()
            run("ip", "netns", "del", host.name, check=False)
            run("ip", "link", "del", host.link, check=False)
        run("ip", "link", "del", self.bridge, check=False)
        try:
            os.unlink(os.path.join(OWNERS, self.tag))
        except FileNotFoundError:
            pass


def remove_leftovers() -> None:
    """Namespaces and links of an earlier run whose test process died before its
    clean-up. A network whose maker still runs (a test in another checkout) is left alone."""
    for tag in os.listdir(OWNERS) if os.path.isdir(OWNERS) else []:
        try:
            with open(os.path.join(OWNERS, tag)) as owner:
                os.kill(int(owner.read()), 0)
            continue  # its test process lives
        except (ProcessLookupError, ValueError, OSError):
            pass
        _remove_tagged(tag)
        try:
            os.unlink(os.path.join(OWNERS, tag))
        except FileNotFoundError:
            pass


def _remove_tagged(tag: str) -> None:
    mine = PREFIX + tag
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        if name.startswith(mine):
            for pid in run("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run("ip", "netns", "del", name, check=False)
    for line in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        link = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if link.startswith(mine):
            run("ip", "link", "del", link, check=False)
