"""FRR 8.4 (zebra + bgpd in a namespace, as a Cumulus-style VTEP: Linux bridge br100
with VXLAN port vx100, ``advertise-all-vni``) <-> a Filament control node, EVPN both
ways: the MAC/IP FRR learns from its bridge reaches the agent subscribed to the
network whose import target matches; the agent's type-2 route reaches FRR, which
programs it into the kernel (fdb + neighbour entries on vx100/br100); withdrawals
travel both ways.

The control node runs in this process (root namespace); a veth joins it to the
switch namespace (198.19.200.x/30), because bgpd with zebra resolves its session
through zebra's view of the switch namespace.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from filament.control.node import ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry

from peers import Frr, Namespaces, bridge_host, free_port, have_frr, l2vni_switch, sh, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not have_frr(), reason="needs root and FRR"),
]

_B = 4 * (os.getpid() % 60)
OURS, FRR_ADDR = f"198.19.200.{_B + 1}", f"198.19.200.{_B + 2}"  # control node <-> FRR session
AGENT = "127.0.0.96"  # the simulated agent's XMPP source address
SWITCH_VTEP, VROUTER = "198.18.94.1", "198.18.94.2"
VNI = 100
RED = "default-domain:p:red:red"
ASN = 64512
HOST_MAC, HOST_IP = "02:00:00:00:21:21", "100.64.1.21"
WL_MAC, WL_IP = "02:00:00:00:01:12", "100.64.1.12"


def bgp_routers(name: str) -> dict:
    return {"bgp-router": {
        "u-ctl": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", name],
                  "bgp_router_parameters": {"router_type": "control-node", "address": OURS, "identifier": OURS,
                                            "autonomous_system": ASN},
                  "bgp_router_refs": [{"uuid": "u-frr", "to": ["frr"], "attr": {"session": []}}]},
        "u-frr": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", "frr"],
                  "bgp_router_parameters": {"router_type": "router", "address": FRR_ADDR, "identifier": FRR_ADDR,
                                            "autonomous_system": ASN, "hold_time": 30,
                                            "address_families": {"family": ["e-vpn"]}}},
    }}


def frr_conf(filament_port: int) -> str:
    return f"""frr defaults datacenter
router bgp {ASN}
 bgp router-id {FRR_ADDR}
 no bgp default ipv4-unicast
 neighbor {OURS} remote-as {ASN}
 neighbor {OURS} port {filament_port}
 neighbor {OURS} update-source {FRR_ADDR}
 neighbor {OURS} timers connect 1
 address-family l2vpn evpn
  neighbor {OURS} activate
  advertise-all-vni
 exit-address-family
"""


class Fabric:
    """The switch namespace (FRR, br100/vx100, host h1 on swp1), a vRouter-host
    namespace at the other end of the underlay, the FRR daemons and the control node."""

    def __init__(self):
        self.nss = Namespaces("evpn")
        self.frr: Frr | None = None
        self.control: ControlNodeService | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="fil-frr-evpn-")

    async def start(self) -> None:
        nss = self.nss
        self.sw, self.hv = nss.add("sw"), nss.add("hv")
        nss.veth(self.sw, "ul0", self.hv, "ul0")
        sh("ip", "addr", "add", f"{SWITCH_VTEP}/24", "dev", "ul0", ns=self.sw)
        sh("ip", "addr", "add", f"{VROUTER}/24", "dev", "ul0", ns=self.hv)
        nss.link_to_root(self.sw, "ctl0", FRR_ADDR, OURS)
        l2vni_switch(self.sw, vni=VNI, vtep=SWITCH_VTEP, underlay_dev="ul0", bridge_ip="100.64.1.1/24")
        self.host = bridge_host(nss, self.sw, "h1", "swp1", f"{HOST_IP}/24", HOST_MAC, VNI)
        self.control = ControlNodeService(None, host=OURS, xmpp_port=0, introspect_port=0, name="ctl-frr-evpn",
                                          options=ControlOptions(eor_quiet=0.0), bgp_port=free_port(OURS))
        await self.control.start()
        self.control.node.configure_instances({RED: InstanceConfig(
            RED, frozenset({f"target:{ASN}:{VNI}"}), frozenset({f"target:{ASN}:{VNI}"}), "default-domain:p:red", 5, VNI)})
        self.frr = await asyncio.to_thread(Frr, Path(self._tmp.name), frr_conf(self.control.bgp_port), ns=self.sw, zebra=True)
        await self.control.apply_bgp_config(bgp_routers("ctl-frr-evpn"))
        await asyncio.to_thread(wait_until, lambda: self.frr.neighbor_state(OURS) == "Established", 20, "FRR to establish")

    async def close(self) -> None:
        if self.frr is not None:
            self.frr.stop()
        if self.control is not None:
            await self.control.stop()
        self.nss.close()
        self._tmp.cleanup()


@pytest.fixture
async def fabric():
    f = Fabric()
    try:
        await f.start()
        yield f
    except BaseException:
        if f.frr is not None:
            print(f.frr.log_text()[-4000:])
        raise
    finally:
        await f.close()


def frr_macip(frr: Frr, mac: str) -> list[tuple[str, str, dict]]:
    """(rd, prefix, best path) of FRR's type-2 routes for ``mac``."""
    out = []
    for rd, entries in frr.json("show bgp l2vpn evpn route type macip").items():
        if not isinstance(entries, dict):
            continue
        for prefix, entry in entries.items():
            if isinstance(entry, dict) and f"[{mac}]" in prefix:
                paths = [p for group in entry.get("paths", []) for p in (group if isinstance(group, list) else [group])]
                best = next((p for p in paths if p.get("bestpath")), paths[0] if paths else {})
                out.append((rd, prefix, best))
    return out


def kernel_fdb(ns: str) -> str:
    return sh("bridge", "fdb", "show", "dev", f"vx{VNI}", ns=ns).stdout


async def test_evpn_type2_both_ways(fabric):
    frr, control = fabric.frr, fabric.control
    agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
    try:
        agent.subscribe(RED, 4)
        # FRR -> Filament: the host's MAC+IP, learned by zebra from the bridge and ARP
        sh("ping", "-c", "1", "-W", "1", "100.64.1.1", ns=fabric.host)
        key = f"{HOST_MAC},{HOST_IP}/32"
        await agent.wait_for(lambda a: key in a.table("evpn", RED), timeout=20)
        got = agent.table("evpn", RED)[key]
        assert [(n.address, n.label, n.encap) for n in got.next_hops] == [(SWITCH_VTEP, VNI, ("vxlan",))], got
        evpn = control.node.rib.tables["bgp.evpn.0"].routes
        assert any(k.startswith(f"2-{FRR_ADDR}:") and k.endswith(f"-{HOST_MAC},{HOST_IP}") for k in evpn), list(evpn)

        # Filament -> FRR: the agent's workload as type 2 (RT, VNI, VXLAN, next hop = vRouter)
        agent.publish(RED, RouteEntry(25, 242, address=f"{WL_IP}/32", mac=WL_MAC, local_pref=200,
                                      next_hops=(NextHop(VROUTER, label=VNI, encap=("vxlan",)),)))
        routes = await asyncio.to_thread(wait_until, lambda: frr_macip(frr, WL_MAC), 20, "FRR to learn the workload")
        (rd, prefix, path), = [r for r in routes if f"[{WL_IP}]" in r[1]]
        assert rd == f"{VROUTER}:4", routes
        assert path.get("valid") and [n["ip"] for n in path["nexthops"]] == [VROUTER], path
        ext = path["extendedCommunity"]["string"].split()
        assert f"RT:{ASN}:{VNI}" in ext and "ET:8" in ext, path
        assert path["ethTag"] in (0, VNI), path  # vlan-based or vlan-aware: FRR imports either by RT
        # zebra programmed the remote MAC/IP into the switch's kernel
        await asyncio.to_thread(wait_until, lambda: f"{WL_MAC} dst {VROUTER}" in kernel_fdb(fabric.sw), 10, "fdb entry")
        neigh = sh("ip", "neigh", "show", WL_IP, ns=fabric.sw).stdout
        assert WL_MAC in neigh and "extern_learn" in neigh, neigh

        # withdrawals: the agent's route leaves FRR and the kernel; the host's leaves the agent
        agent.publish(RED, RouteEntry(25, 242, address=f"{WL_IP}/32", mac=WL_MAC,
                                      next_hops=(NextHop(VROUTER, label=VNI, encap=("vxlan",)),)), add=False)
        await asyncio.to_thread(wait_until, lambda: not frr_macip(frr, WL_MAC), 20, "FRR to drop the workload")
        await asyncio.to_thread(wait_until, lambda: WL_MAC not in kernel_fdb(fabric.sw), 10, "fdb entry removal")
        sh("ip", "link", "del", "swp1", ns=fabric.sw)
        await agent.wait_for(lambda a: not any(HOST_MAC in k for k in a.table("evpn", RED)), timeout=20)
    finally:
        agent.close()
