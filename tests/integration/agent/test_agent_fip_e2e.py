"""A floating IP as NAT, from the config API to packets (issue 5): w1 (private network
red, 100.64.1.11) on h1 gets 100.64.9.100 from a pool of the public network pub,
where wp (100.64.9.12) lives on h2. h1's agent publishes the FIP /32 in pub's VRF; wp
pings it and gets replies; w1 sees wp's own address as the source, and reaches wp with
the FIP as its source. Deleting the FIP stops both."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid

import pytest

from filament.agent.service import AgentService
from filament.compiler.service import CompilerService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService

from netns import Lab
from test_agent_e2e import IPAM, PROJ, add_vrouter, make_port, plug, port_body, start_agents, until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]

# a TCP server that answers with the address the connection came from
PEER_SERVER = ("import socket,sys\n"
               "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
               "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8); print('ready', flush=True)\n"
               "while True:\n c,a=s.accept(); c.sendall(a[0].encode()); c.close()\n")
PEER_CLIENT = ("import socket,sys\n"
               "c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); print(c.recv(64).decode())\n")


def peer_seen(ns: str, dst: str, port: int) -> str:
    """The source address ``dst``'s server saw for a connection from ``ns`` ("" = none)."""
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", PEER_CLIENT, dst, str(port)],
                       capture_output=True, text=True, timeout=20)
    return r.stdout.strip() if r.returncode == 0 else ""


async def start_server(ns: str, port: int) -> subprocess.Popen:
    p = await asyncio.to_thread(subprocess.Popen, ["ip", "netns", "exec", ns, "python3", "-c", PEER_SERVER, str(port)],
                                stdout=subprocess.PIPE, text=True)
    assert (await asyncio.to_thread(p.stdout.readline)).strip() == "ready"
    return p


@pytest.fixture
def lab():
    lab = Lab("fipe2e")
    try:
        yield lab
    finally:
        lab.close()


def _vn_body(name: str, third: int) -> dict:
    return {"fq_name": PROJ + [name], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": f"100.64.{third}.0", "ip_prefix_len": 24},
                 "default_gateway": f"100.64.{third}.1"}]}}]}


def _has_route(agent: AgentService, vrf: str, prefix: str) -> bool:
    net = agent.view.networks.get(vrf)
    return net is not None and any(r.prefix == prefix and r.kind == "unicast" and r.table == 0x10000 + net.vni
                                   for r in agent.desired.routes)


async def test_floating_ip_is_nat(api_server, lab, tmp_path):
    sfx = uuid.uuid4().hex[:8]
    fip_ip = "100.64.9.100"
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.0.1", "198.18.0.2")
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    wp = lab.workload(h2, "tapwp", "wp", "100.64.9.12", "02:00:00:00:09:12", "100.64.9.1")
    api = ConfigClient(api_server)
    comp = CompilerService(api_server, name=f"comp-{sfx}")
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions())
    agents: list[AgentService] = []
    servers: list[subprocess.Popen] = []
    try:
        red = await api.create("virtual-network", _vn_body(f"red-{sfx}", 1))
        pub = await api.create("virtual-network", _vn_body(f"pub-{sfx}", 9))
        pub_vrf = ":".join(pub["fq_name"] + [pub["fq_name"][-1]])
        pool = await api.create("floating-ip-pool", {"fq_name": pub["fq_name"] + [f"pool-{sfx}"],
                                                     "parent_type": "virtual-network"})
        bodies = []
        vmi1 = None
        for i, (vn, name, ifname, ip, mac) in enumerate(((red, "w1", "tapw1", "100.64.1.11", "02:00:00:00:01:11"),
                                                         (pub, "wp", "tapwp", "100.64.9.12", "02:00:00:00:09:12")), 1):
            vm, vmi = await make_port(api, sfx, vn, name, ip, mac)
            vmi1 = vmi1 or vmi
            await add_vrouter(api, f"cn{i}-{sfx}", f"198.18.0.{i}", [vm])
            bodies.append(port_body(vmi, vm, vn, ifname, ip, mac))
        await comp.start()
        await ctl.start()
        await until(lambda: ctl.node.config_connected)
        await start_agents(agents, (h1, h2), [("127.0.0.1", ctl.xmpp_port)] * 2, sfx, tmp_path, 50)
        for a, body in zip(agents, bodies):
            await plug(a, body)
        a1, a2 = agents

        async def settled():
            for a in agents:
                await a.wait_applied()
                assert not a.last_pass.failed, a.last_pass.failed

        await until(lambda: bool(a1.desired.vifs) and bool(a2.desired.vifs), timeout=20)
        await settled()
        servers.append(await start_server(w1, 8080))
        servers.append(await start_server(wp, 8081))
        assert await asyncio.to_thread(lab.ping, wp, "100.64.9.1")
        assert not await asyncio.to_thread(lab.ping, wp, fip_ip, 1, 1)
        assert await asyncio.to_thread(peer_seen, w1, "100.64.9.12", 8081) == ""

        fip = await api.create("floating-ip", {
            "fq_name": pool["fq_name"] + [f"fip-{sfx}"], "parent_type": "floating-ip-pool",
            "floating_ip_address": fip_ip,
            "virtual_machine_interface_refs": [{"to": vmi1["fq_name"], "uuid": vmi1["uuid"]}]})
        await until(lambda: _has_route(a2, pub_vrf, f"{fip_ip}/32") and _has_route(a1, pub_vrf, "100.64.9.12/32")
                    and bool(a1.desired.filter.nats), timeout=20)
        await settled()
        pub_table = 0x10000 + a1.view.networks[pub_vrf].vni
        assert await asyncio.to_thread(lab.ping, wp, fip_ip, 3)  # DNAT in, replies back from the FIP
        assert await asyncio.to_thread(peer_seen, wp, fip_ip, 8080) == "100.64.9.12"  # w1 sees wp's address
        assert await asyncio.to_thread(peer_seen, w1, "100.64.9.12", 8081) == fip_ip  # SNAT out
        assert await asyncio.to_thread(lab.ping, w1, "100.64.9.12")
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.1")  # its own gateway still answers
        assert not await asyncio.to_thread(lab.ping, wp, "100.64.1.11", 1, 1)  # the fixed IP stays private

        await api.delete("floating-ip", fip["uuid"])
        await until(lambda: not _has_route(a2, pub_vrf, f"{fip_ip}/32") and not a1.desired.filter.nats, timeout=20)
        await settled()
        assert not await asyncio.to_thread(lab.ping, wp, fip_ip, 1, 1)
        assert await asyncio.to_thread(peer_seen, w1, "100.64.9.12", 8081) == ""
        assert not any(r.table == pub_table for r in a1.desired.routes)  # h1 no longer needs pub's table
    finally:
        for p in servers:
            p.kill()
            p.wait()
        for a in agents:
            await a.stop()
        await ctl.stop()
        await comp.stop()
        await api.close()
