"""The agent's calculation: ``AgentView`` -> ``DatapathState`` (pure, no I/O).

A routing instance with local ports gets a table (chosen by its VNI), selected by the
packet mark the nft tables give what enters from its vifs and VXLAN device, an
``unreachable default`` (no fall-through to ``main``), the subnet gateways as local
addresses (distributed default gateway; vifs answer ARP by proxy with the vRouter MAC)
and a VXLAN device. Remote routes go ``via <vtep> onlink`` on the VXLAN device of the
route's VNI, with a permanent neighbour and fdb entry for that VTEP. A port whose
network is unknown is left unconfigured (fail closed).

ACLs (``port_acls``): a port's network ACL (if its network has a policy) and its
security groups' ACLs become per-vif ``VifAcl`` chains, each ending in a default deny.
Remote sides resolve to prefixes: a network to its subnets, a group id to its members
(local ports in the group, and routes carrying its id), a CIDR to itself; what does not resolve matches nothing (fail
closed). A port without groups has no SG stage; an attached group not (yet) in config
has no rules, so its default deny applies.

A leaked route (another network's VNI) whose next hop is this host goes straight to
that network's vif; both directions of such a flow share one conntrack zone.

Floating IPs (``bound_floating_ips``): the public network's instance gets a table here
and each FIP a ``FipNat`` (DNAT in, SNAT out, the private zone). ``advertisement`` is
what the agent publishes: its ports' /32s and its FIPs' /32s (in the public VRF), with
the ports' security-group ids, the same addresses as EVPN MAC/IP items (MAC = this
vRouter's VXLAN device MAC) and one EVPN broadcast item per VRF.

EVPN MAC/IP routes (hosts behind an L2VNI switch, seed 004) fill in what inet routes do
not cover: ``<ip>/32 dev flvx<VNI>`` with a permanent neighbour (the host's MAC) and an
fdb entry (that MAC -> the switch's VTEP), see ``mac_ip_objects``.
"""

from __future__ import annotations

import ipaddress

from filament.agent.view import AclAddress, AclEntry, AgentView, FloatingIp, MacIpRoute, Network, Port
from filament.datapath import nft
from filament.datapath.state import (
    VXLAN_OVERHEAD,
    AclRule,
    Address,
    DatapathState,
    Fdb,
    FipNat,
    Filter,
    Neighbour,
    NextHop,
    Route,
    Rule,
    Vif,
    VifAcl,
    Vxlan,
    table_for_vni,
    vtep_mac,
    vxlan_name,
)
from filament.wire.xmpp import model as xm
from filament.wire.xmpp.items import item_id

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


def bound_floating_ips(view: AgentView, ports: list[Port] | None = None) -> list[tuple[Port, Network, FloatingIp]]:
    """Floating IPs to program on this host: bound to a configured local port, from a
    known network other than the port's, IPv4, for the port's own IP; an address is
    claimed once per public network (first port by uuid wins)."""
    by_uuid = {p.uuid: p for p in (configured_ports(view) if ports is None else ports)}
    out, seen = [], set()
    for vrf, net in sorted(view.networks.items()):
        for fip in sorted(net.floating_ips, key=lambda f: (f.port, f.ip)):
            port = by_uuid.get(fip.port)
            if port is None or port.vrf == vrf or (fip.fixed_ip and fip.fixed_ip != port.ip):
                continue
            try:
                if ipaddress.ip_address(fip.ip).version != 4:
                    continue
            except ValueError:
                continue
            if (vrf, fip.ip) in seen:
                continue
            seen.add((vrf, fip.ip))
            out.append((port, net, fip))
    return out


def _vn_of(vrf: str) -> str:
    return vrf.rsplit(":", 1)[0]


def _resolve(addr: AclAddress, port: Port, view: AgentView) -> tuple[str, ...] | None:
    """Prefixes an ACL side stands for; () = any, None = nothing (skip the entry)."""
    if addr.kind == "any":
        return ()
    nets = {_vn_of(n.vrf): n for n in view.networks.values()}
    if addr.kind in ("network", "local"):
        net = view.networks.get(port.vrf) if addr.kind == "local" else nets.get(addr.value)
        return tuple(sorted(s.prefix for s in net.subnets)) or None if net else None
    if addr.kind == "group":
        return group_members(view, addr.value) or None
    if addr.kind == "prefix":
        out = []
        for p in addr.value.split(","):
            try:
                net = ipaddress.ip_network(p, strict=False)
            except ValueError:
                continue
            if net.version == 4:
                out.append(str(net))
        return tuple(sorted(out)) or None
    return None


def group_members(view: AgentView, group_id: str) -> tuple[str, ...]:
    """Prefixes of a security group's members: local ports in the group, and every route
    in the agent's VRFs that carries the group's id (members on other hosts)."""
    names = {n for n, g in view.security_groups.items() if str(g.id) == group_id}
    out = {f"{p.ip}/32" for p in configured_ports(view) if names & set(p.security_groups)}
    for routes in view.routes.values():
        out.update(r.prefix for r in routes.values() if any(str(i) == group_id for i in r.security_groups))
    return tuple(sorted(out))


def _local_matches(addr: AclAddress, port: Port) -> bool:
    """Does the network ACL entry's local side name this port's network (or any)?"""
    if addr.kind in ("any", "local"):
        return True
    if addr.kind == "network":
        return addr.value == _vn_of(port.vrf)
    if addr.kind == "prefix":
        ip = ipaddress.IPv4Address(port.ip)
        return any(ip in ipaddress.ip_network(p, strict=False) for p in addr.value.split(",") if "." in p)
    return False


def _rules(entries: tuple[AclEntry, ...], direction: str, port: Port, view: AgentView, policy: bool) -> tuple[AclRule, ...]:
    out = []
    for e in entries:
        if e.ethertype != "IPv4" or e.protocol == "none":
            continue
        local, remote = (e.dst, e.src) if direction == "ingress" else (e.src, e.dst)
        if policy and not _local_matches(local, port):
            continue
        prefixes = _resolve(remote, port, view)
        if prefixes is None:
            continue
        out.append(AclRule(e.uuid, e.action, e.protocol, prefixes, e.src_ports, e.dst_ports))
    return tuple(out)


def port_acls(view: AgentView, port: Port) -> list[VifAcl]:
    """The ACL chains of one configured port (pure)."""
    out = []
    net = view.networks[port.vrf]
    for direction in ("egress", "ingress"):
        if net.acl is not None:
            out.append(VifAcl(port.ifname, direction, "policy", _rules(net.acl, direction, port, view, True)))
        if port.security_groups:
            entries: tuple[AclEntry, ...] = ()
            for name in sorted(port.security_groups):
                sg = view.security_groups.get(name)
                if sg is not None:
                    entries += sg.ingress if direction == "ingress" else sg.egress
            out.append(VifAcl(port.ifname, direction, "sg", _rules(entries, direction, port, view, False)))
    return out


def desired_state(view: AgentView) -> DatapathState:
    host = view.host
    mtu = overlay_mtu(host.underlay_mtu)
    vifs, vxlans, rules, routes, neighbours, fdbs, addresses = set(), set(), set(), set(), set(), set(), set()
    bindings: list[nft.ZoneBinding] = []
    overrides: list[nft.ZoneOverride] = []
    acls: list[VifAcl] = []
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
        bindings.append(nft.ZoneBinding(port.ifname, table, nft.zone_for_vni(net.vni)))
        acls.extend(port_acls(view, port))

    # floating IPs: the public instance gets a table here too (no gateway: no vif of it)
    nats: list[FipNat] = []
    public_vrfs = set()
    for port, pub, fip in bound_floating_ips(view, ports):
        private = view.networks[port.vrf]
        zone = nft.zone_for_vni(private.vni)
        public_vrfs.add(pub.vrf)
        outbound = not any(n.vif == port.ifname for n in nats)
        nats.append(FipNat(fip.ip, port.ip, port.ifname, table_for_vni(pub.vni), table_for_vni(private.vni), zone, outbound))
        overrides.append(nft.ZoneOverride(table_for_vni(pub.vni), f"{fip.ip}/32", zone))

    vnis: set[int] = set()
    route_keys = {(r.table, r.prefix) for r in routes}
    for vrf in sorted(local_vrfs | public_vrfs):
        net = view.networks[vrf]
        table = table_for_vni(net.vni)
        vnis.add(net.vni)
        rules.add(Rule.by_mark(table))
        for sn in net.subnets if vrf in local_vrfs else ():
            if sn.gateway:
                addresses.add(Address(sn.gateway))
                routes.add(Route(table, f"{sn.gateway}/32", kind="local", nexthops=(NextHop("lo"),)))
                route_keys.add((table, f"{sn.gateway}/32"))
        for prefix, route in sorted(view.routes.get(vrf, {}).items()):
            nhs = []
            for pnh in route.nexthops:
                if pnh.address == host.vtep:
                    port = local_by_vni_ip.get((pnh.vni, prefix.split("/")[0]))
                    if port is not None and prefix.endswith("/32"):
                        nhs.append(NextHop(port.ifname))
                        zone = nft.zone_for_vni(pnh.vni)
                        if zone < nft.zone_for_vni(net.vni):
                            overrides.append(nft.ZoneOverride(table, prefix, zone))
                    continue
                dev = vxlan_name(pnh.vni)
                vnis.add(pnh.vni)
                mac = vtep_mac(pnh.address)
                neighbours.add(Neighbour(dev, pnh.address, mac))
                fdbs.add(Fdb(dev, mac, pnh.address))
                nhs.append(NextHop(dev, via=pnh.address))
            key = (table, prefix)
            if nhs and key not in route_keys:
                route_keys.add(key)
                routes.add(Route(table, prefix, nexthops=tuple(sorted(set(nhs)))))

    # EVPN MAC/IP routes (an L2VNI switch's hosts): only where no inet route exists
    neighbour_keys = {(n.dev, n.ip) for n in neighbours}
    fdb_dst = {(f.dev, f.mac): f.dst for f in fdbs}
    for vrf in sorted(local_vrfs | public_vrfs):
        table = table_for_vni(view.networks[vrf].vni)
        for _, mr in sorted(view.mac_ip_routes.get(vrf, {}).items()):
            found = mac_ip_objects(mr, table, host.vtep, route_keys, neighbour_keys, fdb_dst)
            if found is not None:
                route, neighbour, fdb = found
                routes.add(route)
                route_keys.add((route.table, route.prefix))
                neighbours.add(neighbour)
                neighbour_keys.add((neighbour.dev, neighbour.ip))
                fdbs.add(fdb)
                fdb_dst[(fdb.dev, fdb.mac)] = fdb.dst
                vnis.add(mr.nexthop.vni)

    for vni in vnis:
        table = table_for_vni(vni)
        dev = vxlan_name(vni)
        vxlans.add(Vxlan(dev, vni, host.vtep, host.underlay_dev, vtep_mac(host.vtep), mtu))
        rules.add(Rule.by_mark(table))  # the nft pre chain marks what enters by the device
        routes.add(Route(table, DEFAULT, kind="unreachable"))
        bindings.append(nft.ZoneBinding(dev, table, nft.zone_for_vni(vni)))

    # conntrack only for the ports that need it: filtered or NATed ("P" vifs)
    filtered = {a.vif for a in acls} | {n.vif for n in nats}
    tracked = [(p.ifname, p.ip) for p in ports if p.ifname in filtered]
    ruleset = nft.render(bindings, acls, overrides, nats, tracked, host.vtep)
    return DatapathState(
        vifs=frozenset(vifs),
        vxlans=frozenset(vxlans),
        addresses=frozenset(addresses),
        rules=frozenset(rules),
        routes=frozenset(routes),
        neighbours=frozenset(neighbours),
        fdbs=frozenset(fdbs),
        filter=Filter(ruleset.text, tuple(sorted(acls)), tuple(sorted(nats)), ruleset),
    )


def mac_ip_objects(
    route: MacIpRoute,
    table: int,
    vtep: str,
    route_keys: set[tuple[int, str]],
    neighbour_keys: set[tuple[str, str]],
    fdb_dst: dict[tuple[str, str], str],
) -> tuple[Route, Neighbour, Fdb] | None:
    """The kernel objects of one EVPN MAC/IP route in ``table``: ``<ip>/32 dev
    flvx<VNI>``, the permanent neighbour ``<ip> lladdr <mac>`` and the fdb entry ``<mac>
    dst <vtep>`` on that device. Nothing for our own routes, for an address the table
    already routes (local ports, the gateway, inet routes win), whose neighbour on that
    device is taken (a VTEP address) or whose MAC already goes to another VTEP there
    (the kernel would send to both)."""
    nh = route.nexthop
    dev = vxlan_name(nh.vni)
    if nh.address == vtep or (table, f"{route.ip}/32") in route_keys or (dev, route.ip) in neighbour_keys:
        return None
    if fdb_dst.get((dev, route.mac), nh.address) != nh.address:
        return None
    return (Route(table, f"{route.ip}/32", nexthops=(NextHop(dev),)), Neighbour(dev, route.ip, route.mac),
            Fdb(dev, route.mac, nh.address))


def policy_enabled(view: AgentView, port: Port) -> bool:
    """The vif's "P" flag, as the original agent computes it (``VmInterface::
    PolicyEnabled`` of the seeds' era): its network has an ACL, or the port has security
    groups or a floating IP. Exactly the ports this datapath filters or NATs."""
    net = view.networks.get(port.vrf)
    if net is not None and net.acl is not None:
        return True
    return bool(port.security_groups) or any(p.uuid == port.uuid for p, _, _ in bound_floating_ips(view))


def vif_flags(view: AgentView, port: Port) -> str:
    """Flags as ``vif --list`` prints them for a workload port: P (policy), L3, L2, D (DHCP)."""
    return ("P" if policy_enabled(view, port) else "") + "L3L2D"


def advertisement(view: AgentView) -> tuple[frozenset[str], dict[tuple[str, str], xm.RouteEntry]]:
    """What the agent tells the control node: the VRFs to subscribe to and the items to
    publish, by (vrf, item id). Each configured port's ``/32`` in its VRF and each bound
    floating IP's ``/32`` in its public VRF: next hop this vRouter, VXLAN, label = VNI of
    that VRF, and the ids of the port's security groups (so other agents can resolve
    group-id rules to it). Each such address also as an EVPN MAC/IP item whose MAC is
    this vRouter's VXLAN device MAC (``02:00:<vtep>``: the datapath is routed, so a
    frame from an L2 VTEP must be addressed to ``flvx<VNI>``), and per VRF one broadcast
    item (``ff:ff:ff:ff:ff:ff``), which the control node originates as this VTEP's
    inclusive multicast (type 3) route: switches then flood BUM (ARP) to us."""
    vtep = view.host.vtep
    vxlan_mac = vtep_mac(vtep)
    vrfs: set[str] = set()
    out: dict[tuple[str, str], xm.RouteEntry] = {}

    def put(vrf: str, entry: xm.RouteEntry) -> None:
        out[(vrf, item_id(entry))] = entry

    def add(vrf: str, net: Network, port: Port, ip: str) -> None:
        vn = _vn_of(vrf)
        sg_ids = tuple(sorted({view.security_groups[g].id for g in port.security_groups
                               if g in view.security_groups and view.security_groups[g].id}))
        nh = xm.NextHop(vtep, mac=port.mac, label=net.vni, vni=net.vni, encap=("vxlan",), virtual_network=vn)
        vrfs.add(vrf)
        put(vrf, xm.RouteEntry(1, 1, address=f"{ip}/32", next_hops=(nh,), virtual_network=vn,
                               local_pref=100, security_groups=sg_ids))
        enet = xm.NextHop(vtep, label=net.vni, encap=("vxlan",), virtual_network=vn)
        put(vrf, xm.RouteEntry(25, 242, mac=vxlan_mac, address=f"{ip}/32", next_hops=(enet,), virtual_network=vn,
                               local_pref=100, security_groups=sg_ids))
        put(vrf, xm.RouteEntry(25, 242, mac=xm.BROADCAST_MAC, address="0.0.0.0/32", next_hops=(enet,),
                               virtual_network=vn, local_pref=100))

    ports = configured_ports(view)
    for port in ports:
        add(port.vrf, view.networks[port.vrf], port, port.ip)
    for port, pub, fip in bound_floating_ips(view, ports):
        add(pub.vrf, pub, port, fip.ip)
    return frozenset(vrfs), out
