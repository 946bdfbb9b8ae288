"""Security groups in the linux datapath, in namespaces this test creates: w2 (on h2)
is in a group allowing only TCP 8080 in; a ping to it is dropped by the group's default
deny while TCP 8080 passes, and `filament flow -l` attributes both."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from filament.agent.desired import desired_state
from filament.agent.reconcile import converge
from filament.agent.view import AclAddress, AclEntry, AgentView, Host, Network, PathNextHop, Port, RouteIn, SecurityGroup, Subnet
from filament.cli.flow import flows
from filament.datapath import nft

from netns import Lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("conntrack"),
                       reason="needs root, nft and conntrack"),
]

RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
V1, V2 = "198.18.0.1", "198.18.0.2"
WEB = SecurityGroup("d:p:web", 8000001,
                    ingress=(AclEntry("rule-tcp-8080", "pass", "6", src=AclAddress("prefix", "0.0.0.0/0"),
                                      dst_ports=(8080, 8080)),),
                    egress=(AclEntry("rule-egress-any", "pass"),))
SERVER = ("import socket,sys\n"
          "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8); print('ready', flush=True)\n"
          "while True:\n c,_=s.accept(); c.sendall(b'hi'); c.close()\n")
CLIENT = ("import socket,sys\n"
          "c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); print(c.recv(2).decode())\n")


@pytest.fixture
def lab():
    lab = Lab("sg")
    try:
        yield lab
    finally:
        lab.close()


def tcp_ok(ns: str, dst: str, port: int) -> bool:
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", CLIENT, dst, str(port)],
                       capture_output=True, text=True, timeout=20)
    return r.returncode == 0 and r.stdout.strip() == "hi"


def test_group_without_icmp_rule_drops_ping_and_passes_allowed_tcp(lab):
    from filament.datapath.linux import LinuxDatapath

    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, V1, V2)
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    w2 = lab.workload(h2, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1")
    p1 = Port("p1", "tapw1", "02:00:00:00:01:11", "100.64.1.11", RED.vrf)
    p2 = Port("p2", "tapw2", "02:00:00:00:01:12", "100.64.1.12", RED.vrf, security_groups=(WEB.name,))
    nets = {RED.vrf: RED}
    r = lambda p, vtep: {RED.vrf: {p: RouteIn(p, (PathNextHop(vtep, 5),))}}  # noqa: E731
    views = (AgentView(Host(V1, "ul0", 1600), nets, {"p1": p1}, r("100.64.1.12/32", V2)),
             AgentView(Host(V2, "ul0", 1600), nets, {"p2": p2}, r("100.64.1.11/32", V1), {WEB.name: WEB}))
    dps = [LinuxDatapath(h1), LinuxDatapath(h2)]
    servers = []
    try:
        for dp, v in zip(dps, views):
            res = converge(dp, desired_state(v))
            assert not res.failed, res.failed
        for port in (8080, 9090):
            srv = subprocess.Popen(["ip", "netns", "exec", w2, "python3", "-c", SERVER, str(port)],
                                   stdout=subprocess.PIPE, text=True)
            servers.append(srv)
            assert srv.stdout.readline().strip() == "ready"

        assert not lab.ping(w1, "100.64.1.12", wait=1)  # no ICMP rule: default deny
        assert tcp_ok(w1, "100.64.1.12", 8080)  # allowed by rule-tcp-8080
        assert not tcp_ok(w1, "100.64.1.12", 9090)  # not allowed
        assert lab.ping(w2, "100.64.1.11")  # egress any; the reply is established

        rows = flows(h2)
        zone = nft.zone_for_vni(5)
        drop = [f for f in rows if f["action"] == "drop" and f["proto"] == "icmp" and f["dst"] == "100.64.1.12"]
        assert drop and drop[0]["rule"] == "default-deny sg ingress tapw2" and drop[0]["zone"] == zone
        tcp = [f for f in rows if f["action"] == "pass" and f["proto"] == "tcp" and f["dport"] == "8080"]
        assert tcp and tcp[0]["rule"] == "rule-tcp-8080" and tcp[0]["zone"] == zone
        assert any(f["action"] == "drop" and f["proto"] == "tcp" and f["rule"] == "default-deny sg ingress tapw2"
                   for f in rows)
        # the group's ingress counter saw the dropped ping
        listing = subprocess.run(["ip", "netns", "exec", h2, "nft", "list", "chain", "inet", nft.TABLE,
                                  "sg-in-tapw2"], capture_output=True, text=True).stdout
        deny = next(line for line in listing.splitlines() if "@dropped" in line and "default-deny" in line)
        assert "counter packets 0 " not in deny

        # removing the group from the port opens it (no SG stage, no network policy)
        open_p2 = Port("p2", "tapw2", "02:00:00:00:01:12", "100.64.1.12", RED.vrf)
        v2 = AgentView(views[1].host, nets, {"p2": open_p2}, views[1].routes)
        assert not converge(dps[1], desired_state(v2)).failed
        assert lab.ping(w1, "100.64.1.12")
    finally:
        for srv in servers:
            srv.kill()
            srv.wait()
        for dp in dps:
            dp.close()
