"""The agent's calculation: ``AgentView`` -> ``DatapathState`` (pure, no I/O).

A routing instance with local ports gets a table (chosen by its VNI), an
``unreachable default`` (no fall-through to ``main``), the subnet gateways as local
addresses (distributed default gateway; vifs answer ARP by proxy with the vRouter MAC)
and a VXLAN device. Remote routes go ``via <vtep> onlink`` on the VXLAN device of the
route's VNI, with a permanent neighbour and fdb entry for that VTEP. A port whose
network is unknown is left unconfigured (fail closed).
"""

from __future__ import annotations

import ipaddress

from filament.agent.view import AgentView, Port
from filament.datapath import nft
from filament.datapath.state import (
    VXLAN_OVERHEAD,
    Address,
    DatapathState,
    Fdb,
    Filter,
    Neighbour,
    NextHop,
    Route,
    Rule,
    Vif,
    Vxlan,
    table_for_vni,
    vtep_mac,
    vxlan_name,
)

DEFAULT = "0.0.0.0/0"


def overlay_mtu(underlay_mtu: int) -> int:
    return underlay_mtu - VXLAN_OVERHEAD


def configured_ports(view: AgentView) -> list[Port]:
    """Ports that can be configured: known network, valid IP, first claim of an IP in a VRF."""
    seen: set[tuple[str, str]] = set()
    out = []
    for port in sorted(view.ports.values(), key=lambda p: p.uuid):
        if port.vrf not in view.networks:
            continue
        try:
            ipaddress.IPv4Address(port.ip)
        except ValueError:
            continue
        key = (port.vrf, port.ip)
        if key in seen:
            continue
        seen.add(key)
        out.append(port)
    return out


def desired_state(view: AgentView) -> DatapathState:
    host = view.host
    mtu = overlay_mtu(host.underlay_mtu)
    vifs, vxlans, rules, routes, neighbours, fdbs, addresses = set(), set(), set(), set(), set(), set(), set()
    bindings: list[nft.ZoneBinding] = []
    ports = configured_ports(view)
    local_by_vni_ip = {}
    local_vrfs = set()
    for port in ports:
        net = view.networks[port.vrf]
        table = table_for_vni(net.vni)
        local_vrfs.add(port.vrf)
        local_by_vni_ip[(net.vni, port.ip)] = port
        vifs.add(Vif(port.ifname, port.uuid, mtu))
        neighbours.add(Neighbour(port.ifname, port.ip, port.mac.lower()))
        routes.add(Route(table, f"{port.ip}/32", nexthops=(NextHop(port.ifname),)))
        rules.add(Rule(table, iif=port.ifname))
        bindings.append(nft.ZoneBinding(port.ifname, table, nft.zone_for_vni(net.vni)))

    vnis: set[int] = set()
    for vrf in sorted(local_vrfs):
        net = view.networks[vrf]
        table = table_for_vni(net.vni)
        vnis.add(net.vni)
        rules.add(Rule(table, fwmark=table))
        for sn in net.subnets:
            if sn.gateway:
                addresses.add(Address(sn.gateway))
                routes.add(Route(table, f"{sn.gateway}/32", kind="local", nexthops=(NextHop("lo"),)))
        for prefix, route in sorted(view.routes.get(vrf, {}).items()):
            nhs = []
            for pnh in route.nexthops:
                if pnh.address == host.vtep:
                    port = local_by_vni_ip.get((pnh.vni, prefix.split("/")[0]))
                    if port is not None and prefix.endswith("/32"):
                        nhs.append(NextHop(port.ifname))
                    continue
                dev = vxlan_name(pnh.vni)
                vnis.add(pnh.vni)
                mac = vtep_mac(pnh.address)
                neighbours.add(Neighbour(dev, pnh.address, mac))
                fdbs.add(Fdb(dev, mac, pnh.address))
                nhs.append(NextHop(dev, via=pnh.address))
            key = (table, prefix)
            if nhs and not any((r.table, r.prefix) == key for r in routes):
                routes.add(Route(table, prefix, nexthops=tuple(sorted(set(nhs)))))

    for vni in vnis:
        table = table_for_vni(vni)
        dev = vxlan_name(vni)
        vxlans.add(Vxlan(dev, vni, host.vtep, host.underlay_dev, vtep_mac(host.vtep), mtu))
        rules.add(Rule(table, iif=dev))
        routes.add(Route(table, DEFAULT, kind="unreachable"))
        bindings.append(nft.ZoneBinding(dev, table, nft.zone_for_vni(vni)))

    return DatapathState(
        vifs=frozenset(vifs),
        vxlans=frozenset(vxlans),
        addresses=frozenset(addresses),
        rules=frozenset(rules),
        routes=frozenset(routes),
        neighbours=frozenset(neighbours),
        fdbs=frozenset(fdbs),
        filter=Filter(nft.render(bindings)),
    )
