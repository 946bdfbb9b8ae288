"""Address bookkeeping shared by instance-ip, floating-ip, alias-ip and virtual-network.

Each address-holding object records in `hidden` the *owner* it was allocated in
(the virtual network, or the flat-subnet IPAM) as `ip_owner` and the address as
`ip`. `IpUsage` indexes those, plus addresses reserved through `ip-alloc`
(kept in the owner's `hidden["reserved_ips"]`), so allocation never hands out an
address twice and survives a restart without extra state.
"""

from __future__ import annotations

from typing import Any

from filament.config import ipam
from filament.config.errors import BadRequest, Conflict
from filament.config.graph import Index, Obj, Txn

ADDRESS_TYPES = ("instance-ip", "floating-ip", "alias-ip")
NO_ALLOC_NETWORKS = (("default-domain", "default-project", "ip-fabric"),
                     ("default-domain", "default-project", "__link_local__"))


class IpUsage(Index):
    name = "ip_usage"

    def reset(self) -> None:
        self.used: dict[tuple[str, int], dict[int, int]] = {}
        # owner -> {subnet key: address where the next scan may start}
        self.hints: dict[str, dict[tuple, int]] = {}

    def _addrs(self, obj: Obj) -> list[tuple[str, int, int]]:
        h = obj.hidden
        out = []
        if obj.type in ADDRESS_TYPES and h.get("ip_owner") and h.get("ip"):
            a, v = ipam.parse_ip(h["ip"])
            out.append((h["ip_owner"], v, a))
        for ip in h.get("reserved_ips", ()):
            a, v = ipam.parse_ip(ip)
            out.append((obj.uuid, v, a))
        return out

    def add(self, obj: Obj) -> None:
        for owner, v, a in self._addrs(obj):
            d = self.used.setdefault((owner, v), {})
            d[a] = d.get(a, 0) + 1

    def remove(self, obj: Obj) -> None:
        for owner, v, a in self._addrs(obj):
            self.hints.pop(owner, None)          # a freed address may lie behind a hint
            d = self.used.get((owner, v))
            if d and a in d:
                if d[a] <= 1:
                    del d[a]
                else:
                    d[a] -= 1

    def used_set(self, owner: str, version: int) -> dict[int, int]:
        return self.used.get((owner, version), {})


def usage(txn: Txn) -> IpUsage:
    return txn.graph.named["ip_usage"]  # type: ignore[return-value]


def pending_used(txn: Txn, owner: str, version: int) -> set[int]:
    """Addresses taken by objects created or edited in this transaction."""
    out: set[int] = set()
    for obj in txn.puts.values():
        h = obj.hidden
        if obj.type in ADDRESS_TYPES and h.get("ip_owner") == owner and h.get("ip"):
            a, v = ipam.parse_ip(h["ip"])
            if v == version:
                out.add(a)
        if obj.uuid == owner:
            for ip in h.get("reserved_ips", ()):
                a, v = ipam.parse_ip(ip)
                if v == version:
                    out.add(a)
    return out


def is_used(txn: Txn, owner: str, addr: int, version: int) -> bool:
    return addr in usage(txn).used_set(owner, version) or \
        addr in pending_used(txn, owner, version)


def vn_subnets(txn: Txn, vn: Obj) -> list[tuple[str, dict[str, Any]]]:
    """(owner uuid, IpamSubnetType) for every subnet a VN can allocate from:
    its user-defined subnets (owner: the VN) then those of flat IPAMs it links."""
    out: list[tuple[str, dict]] = []
    flat: list[tuple[str, dict]] = []
    for ipam_uuid, attr in vn.refs.get("network-ipam", []):
        ipam_obj = txn.get(ipam_uuid)
        for sn in (attr or {}).get("ipam_subnets") or []:
            if sn.get("subnet") and (sn["subnet"].get("ip_prefix") is not None):
                out.append((vn.uuid, sn))
        if ipam_obj is not None and ipam_obj.props.get("ipam_subnet_method") == "flat-subnet":
            for sn in (ipam_obj.props.get("ipam_subnets") or {}).get("subnets") or []:
                flat.append((ipam_obj.uuid, sn))
    mode = vn.props.get("address_allocation_mode") or "user-defined-subnet-preferred"
    if mode == "user-defined-subnet-only":
        return out
    if mode == "flat-subnet-only":
        return flat
    if mode == "flat-subnet-preferred":
        return flat + out
    return out + flat


def allocate_in(txn: Txn, candidates: list[tuple[str, dict]], *, family: str | None = None,
                subnet_uuid: str | None = None, count: int = 1,
                ) -> list[tuple[str, dict, str]]:
    """Allocate `count` addresses from the first candidate subnet with room."""
    for owner, sn in candidates:
        if subnet_uuid and sn.get("subnet_uuid") != subnet_uuid:
            continue
        fam = ipam.family_of(sn)
        if family and fam != family:
            continue
        version = 4 if fam == "v4" else 6
        ix = usage(txn)
        committed = ix.used_set(owner, version)
        pending = pending_used(txn, owner, version)
        used = _Union(committed, pending) if pending else committed
        key = (sn["subnet"]["ip_prefix"], sn["subnet"]["ip_prefix_len"],
               str(sn.get("allocation_pools")), bool(sn.get("addr_from_start")),
               sn.get("alloc_unit"))
        hints = ix.hints.setdefault(owner, {})
        got = ipam.allocate(sn, used, count, hints.get(key))
        if len(got) == count:
            # Everything scanned before the first address handed out is taken.
            hints[key] = got[0]
            return [(owner, sn, ipam.ip_str(a, version)) for a in got]
    return []


class _Union:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __contains__(self, x) -> bool:
        return x in self.a or x in self.b


def reserve_given(txn: Txn, candidates: list[tuple[str, dict]], addr: str, *,
                  allow_gateway: bool = True) -> tuple[str, dict]:
    """Reserve a client-chosen address: find its subnet, refuse it if in use."""
    try:
        a, version = ipam.parse_ip(addr)
    except ValueError:
        raise BadRequest(f"instance_ip_address: {addr!r} is not a valid IP address") from None
    for owner, sn in candidates:
        if not ipam.contains(sn, a, version):
            continue
        gw_dns = {sn.get("default_gateway"), sn.get("dns_server_address")}
        if addr in gw_dns:
            if not allow_gateway:
                raise BadRequest("Gateway IP cannot be used by VM port")
            return owner, sn
        if is_used(txn, owner, a, version):
            raise Conflict(f"IP address already in use: {addr}")
        return owner, sn
    raise BadRequest(f"IP address {addr} is not in any subnet of the network")
