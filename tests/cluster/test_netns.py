"""The test hosts themselves: their own hostname, a cable that can be pulled, nothing left behind."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.cluster.netns import Network

REACH = ("import socket, sys; "
         "socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).send(socket.gethostname().encode())")


def _reach(net: Network, host, server: socket.socket) -> int:
    return host.start([sys.executable, "-c", REACH, net.address, str(server.getsockname()[1])]).wait(timeout=20)


def test_hosts_have_their_own_name_reach_the_bridge_until_cut_and_leave_nothing_behind():
    with Network(hosts=2) as net:
        server = socket.create_server((net.address, 0))
        server.settimeout(10)
        assert _reach(net, net.hosts[0], server) == 0
        connection, (peer, _) = server.accept()
        assert (connection.recv(64), peer) == (b"gq-h1", net.hosts[0].address)
        net.hosts[1].cut()
        assert _reach(net, net.hosts[1], server) != 0  # the cable is out: no route to the database
        net.hosts[1].restore()
        assert _reach(net, net.hosts[1], server) == 0
        sleeper = net.hosts[0].start([sys.executable, "-c", "import signal; signal.pause()"])
        assert sleeper.pid in net.hosts[0].kill_everything() and sleeper.wait(timeout=10) == -9
        names = [host.name for host in net.hosts]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names) and net.tag not in links
