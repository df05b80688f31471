"""sd_notify against a real datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from gigqd.systemd import Notifier, forget_in_child

DEADLINE = 5.0  # seconds a datagram may take to arrive before the test fails


@pytest.fixture
def systemd(tmp_path):
    """A bound AF_UNIX datagram socket and the NOTIFY_SOCKET value that reaches it."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(DEADLINE)
        yield sock, str(path)


@pytest.fixture
def abstract_systemd():
    name = f"gigqd-test-{uuid.uuid4()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(DEADLINE)
        yield sock, "@" + name


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_without_notify_socket_everything_is_a_quiet_no_op():
    notifier = Notifier({})
    assert not notifier.enabled
    calls = [notifier.ready("up"), notifier.status("x"), notifier.reloading(), notifier.stopping(),
             notifier.watchdog(), notifier.ping_if_due(time.monotonic())]
    assert calls == [False] * len(calls)
    assert notifier.watchdog_interval() is None


def test_an_unsupported_address_disables_it():
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled
    assert not Notifier({"NOTIFY_SOCKET": "relative/path"}).enabled


def test_ready_with_status_is_one_datagram(systemd):
    sock, address = systemd
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("4 workers, 0 running") is True
    assert received(sock) == "READY=1\nSTATUS=4 workers, 0 running"
    assert notifier.ready() is True
    assert received(sock) == "READY=1"


def test_an_abstract_socket_is_reached(abstract_systemd):
    sock, address = abstract_systemd
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.stopping() is True
    assert received(sock) == "STOPPING=1"


def test_status_text_stays_on_one_line(systemd):
    sock, address = systemd
    assert Notifier({"NOTIFY_SOCKET": address}).status("2 running\n1 pending\r\n") is True
    assert received(sock) == "STATUS=2 running 1 pending"


def test_reloading_carries_the_monotonic_clock(systemd):
    sock, address = systemd
    before = time.monotonic_ns() // 1000
    assert Notifier({"NOTIFY_SOCKET": address}).reloading() is True
    after = time.monotonic_ns() // 1000
    first, second = received(sock).split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(env, expected):
    assert Notifier({"NOTIFY_SOCKET": "/run/systemd/notify", **env}).watchdog_interval() == expected


def test_pings_go_out_once_per_interval(systemd):
    sock, address = systemd
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"})
    pinged = [notifier.ping_if_due(now) for now in (100.0, 100.5, 100.99, 101.0, 101.5)]
    assert pinged == [True, False, False, True, False]
    assert [received(sock), received(sock)] == ["WATCHDOG=1", "WATCHDOG=1"]


def test_a_vanished_socket_returns_false_and_pings_again_next_time(tmp_path):
    path = tmp_path / "notify"
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    assert notifier.ready() is False  # no such file
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    assert notifier.status("x") is False  # the file is there, nobody listens
    assert notifier.ping_if_due(100.0) is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        path.unlink()
        sock.bind(str(path))
        sock.settimeout(DEADLINE)
        assert notifier.ping_if_due(100.1) is True  # the failed ping did not start an interval
        assert received(sock) == "WATCHDOG=1"


def test_a_forked_copy_stays_silent(systemd):
    sock, address = systemd
    notifier = Notifier({"NOTIFY_SOCKET": address})
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            silent = notifier.ready("from a worker") is False and not notifier.enabled
            code = 0 if silent and Notifier({"NOTIFY_SOCKET": address}).status("child done") else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert received(sock) == "STATUS=child done"  # the refused READY=1 never arrived before it


def test_forget_in_child_drops_only_systemds_variables():
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "1", "PATH": "/bin"}
    forget_in_child(env)
    assert env == {"PATH": "/bin"}
    assert not Notifier(env).enabled
