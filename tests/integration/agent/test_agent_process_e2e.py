"""Everything as real processes: `filament up` (config API + compiler + control node) and
two `python -m filament.agent` processes, each programming its own compute-host namespace
(veth underlay in 198.18.0.0/15). Ports are created through the REST API and plugged
through each agent's port API; workloads ping across hosts, a second network with the
same subnet stays isolated, and `filament vif --list` / `filament flow -l` / `filament vr`
read the running agents. Every process and namespace is removed at the end."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from netns import Lab

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("conntrack"),
                       reason="needs root, nft and conntrack"),
]
GSC = "default-global-system-config"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]


def until(pred, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Agent:
    """`python -m filament.agent` as a process, logging to a file."""

    def __init__(self, name, vtep, netns, xmpp_port, source, workdir):
        self.name, self.port_api, self.introspect = name, free_port(), free_port()
        self.log_path = os.path.join(workdir, f"{name}.log")
        cmd = [sys.executable, "-m", "filament.agent", "--name", name, "--vtep", vtep, "--underlay-dev", "ul0",
               "--underlay-mtu", "1600", "--control", f"127.0.0.1:{xmpp_port}", "--xmpp-source", source,
               "--port-api", f"127.0.0.1:{self.port_api}", "--introspect", f"127.0.0.1:{self.introspect}",
               "--ports-dir", os.path.join(workdir, f"ports-{name}"), "--netns", netns]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port_api}"
        until(self._ready, f"agent {name} to serve its port API")

    def _ready(self) -> bool:
        assert self.proc.poll() is None, open(self.log_path).read()
        try:
            return requests.get(f"{self.url}/ports", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def ref(obj):
    return [{"to": obj["fq_name"], "uuid": obj["uuid"]}]


def create(api, type_, body):
    r = requests.post(f"{api}/{type_}s", json={type_: body}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[type_]


def filament(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "filament", *args], capture_output=True, text=True, timeout=30, cwd=ROOT)


@pytest.fixture
def lab():
    lab = Lab("proc")
    try:
        yield lab
    finally:
        lab.close()


def test_processes_ping_across_hosts_and_networks_stay_isolated(lab, tmp_path, api_process):
    sfx = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.4.1", "198.18.4.2")
    # red and blue use the same subnet and addresses: .11 on h1, .12 on h2
    wl = {("red", 1): lab.workload(h1, "tapr1", "r1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1"),
          ("red", 2): lab.workload(h2, "tapr2", "r2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1"),
          ("blue", 1): lab.workload(h1, "tapb1", "b1", "100.64.1.11", "02:00:00:00:02:11", "100.64.1.1"),
          ("blue", 2): lab.workload(h2, "tapb2", "b2", "100.64.1.12", "02:00:00:00:02:12", "100.64.1.1")}
    xmpp = free_port()
    up = api_process(str(tmp_path / "up"), command="up", extra=[
        "--xmpp-port", str(xmpp), "--introspect-port", str(free_port()), "--bgp-port", "0"])
    agents: list[Agent] = []
    try:
        api = up.start()
        nets, ports = {}, {}
        for color in ("red", "blue"):
            nets[color] = create(api, "virtual-network", {
                "fq_name": PROJ + [f"{color}-{sfx}"], "parent_type": "project",
                "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                    {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": 24}, "default_gateway": "100.64.1.1"}]}}]})
        vms = {1: [], 2: []}
        for (color, host), ns in wl.items():
            vn, ip = nets[color], f"100.64.1.1{host}"
            mac = f"02:00:00:00:0{1 if color == 'red' else 2}:1{host}"
            vm = create(api, "virtual-machine", {"fq_name": [f"{color}{host}-{sfx}"]})
            vmi = create(api, "virtual-machine-interface", {
                "fq_name": PROJ + [f"{color}{host}-{sfx}"], "parent_type": "project", "virtual_network_refs": ref(vn),
                "virtual_machine_refs": ref(vm), "virtual_machine_interface_mac_addresses": {"mac_address": [mac]}})
            create(api, "instance-ip", {"fq_name": [f"{color}{host}-{sfx}"], "instance_ip_address": ip,
                                        "virtual_network_refs": ref(vn), "virtual_machine_interface_refs": ref(vmi)})
            vms[host].append(vm)
            ports[(color, host)] = {
                "id": vmi["uuid"], "instance-id": vm["uuid"], "vn-id": vn["uuid"], "vm-project-id": "",
                "display-name": vm["fq_name"][-1], "ip-address": ip, "ip6-address": "", "type": 0,
                "system-name": f"tap{color[0]}{host}", "mac-address": mac, "rx-vlan-id": -1, "tx-vlan-id": -1}
        for host in (1, 2):
            create(api, "virtual-router", {"fq_name": [GSC, f"cn{host}-{sfx}"], "parent_type": "global-system-config",
                                           "virtual_router_ip_address": f"198.18.4.{host}",
                                           "virtual_machine_refs": [r for vm in vms[host] for r in ref(vm)]})
        for host, ns in ((1, h1), (2, h2)):
            agents.append(Agent(f"cn{host}-{sfx}", f"198.18.4.{host}", ns, xmpp, f"127.0.0.{50 + host}", str(tmp_path)))

        # plug the ports through each agent's port API, as vrouter-port-control does
        for (color, host), body in ports.items():
            r = requests.post(f"{agents[host - 1].url}/port", json=body, timeout=10)
            assert r.status_code == 200, r.text

        def all_active():
            got = [requests.get(f"{agents[h - 1].url}/port/{b['id']}", timeout=5).json()["active"] for (_, h), b in ports.items()]
            return all(a == "Active" for a in got)
        until(all_active, "every port to be active")

        def remote_routes_programmed():
            for a, (c, far) in ((agents[0], ("red", "100.64.1.12/32")), (agents[1], ("red", "100.64.1.11/32")),
                                (agents[0], ("blue", "100.64.1.12/32")), (agents[1], ("blue", "100.64.1.11/32"))):
                vrf = ":".join(nets[c]["fq_name"] + [nets[c]["fq_name"][-1]])
                rts = requests.get(f"http://127.0.0.1:{a.introspect}/Snh_Inet4UcRouteReq", params={"vrf": vrf},
                                   headers={"Accept": "application/json"}, timeout=5).json()["routes"]
                if not any(r["prefix"] == far and any(h["via"] for h in r["next_hops"]) for r in rts):
                    return False
            status = [requests.get(f"http://127.0.0.1:{a.introspect}/Snh_AgentStatus", timeout=5).json() for a in agents]
            return all(s["applied_generation"] >= s["generation"] and not s["failed"] for s in status)
        until(remote_routes_programmed, "remote routes in both agents' datapaths")

        # same network, two hosts: both ways
        assert lab.ping(wl[("red", 1)], "100.64.1.12") and lab.ping(wl[("red", 2)], "100.64.1.11")
        assert lab.ping(wl[("blue", 1)], "100.64.1.12") and lab.ping(wl[("blue", 2)], "100.64.1.11")
        assert lab.ping(wl[("red", 1)], "100.64.1.1")  # the distributed gateway
        # the same address in the other network is never reached
        before = {k: lab.echos_in(ns) for k, ns in wl.items()}
        assert lab.ping(wl[("red", 1)], "100.64.1.12", count=5)
        assert lab.ping(wl[("blue", 2)], "100.64.1.11", count=3)
        after = {k: lab.echos_in(ns) for k, ns in wl.items()}
        assert after[("red", 2)] - before[("red", 2)] == 5 and after[("blue", 2)] == before[("blue", 2)]
        assert after[("blue", 1)] - before[("blue", 1)] == 3 and after[("red", 1)] == before[("red", 1)]

        # operator views against the running agent processes
        a1 = f"127.0.0.1:{agents[0].introspect}"
        out = filament("vif", "--list", "--agent", a1)
        assert out.returncode == 0, out.stderr
        assert "OS: tapr1" in out.stdout and "OS: tapb1" in out.stdout and "IPaddr:6440010b" in out.stdout
        assert "Flags:L3L2D MTU:1550" in out.stdout
        rx = [int(line.split("packets:")[1].split()[0]) for line in out.stdout.splitlines() if "RX packets:" in line]
        assert rx and max(rx) > 0
        out = filament("flow", "-l", "--netns", h1, "--agent", a1)
        assert out.returncode == 0, out.stderr
        red_vrf = ":".join(nets["red"]["fq_name"] + [nets["red"]["fq_name"][-1]])
        # these ports have no policy and no group (flags L3L2D, no P): like the original's
        # vifs without P they are forwarded without flows (test_agent_sg_e2e lists flows)
        assert not any(line.startswith("icmp") and "100.64.1.11" in line for line in out.stdout.splitlines()), out.stdout
        out = filament("vr", "route", "-v", red_vrf, "--agent", a1)
        assert out.returncode == 0 and "via 198.18.4.2 dev flvx" in out.stdout, out.stdout + out.stderr
        xml = requests.get(f"http://{a1}/Snh_ItfReq?name=tapr1", timeout=5).text
        assert "<ItfSandeshData>" in xml and "<active type=\"string\" identifier=\"5\">Active</active>" in xml
    finally:
        for a in agents:
            a.stop()
        up.stop()
    assert all(a.proc.returncode is not None for a in agents) and up.proc.returncode is not None
