"""IPAM as the original does it, as pure functions over plain dicts.

Subnets are `IpamSubnetType` dicts (`{"subnet": {"ip_prefix", "ip_prefix_len"},
"default_gateway", "dns_server_address", "allocation_pools", "addr_from_start",
...}`). Addresses are handled as integers inside, strings outside.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Container, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IpamError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def network_of(sn: dict[str, Any]) -> Network | None:
    """The subnet's network, or None for a prefix-less (flat-IPAM link) entry."""
    s = sn.get("subnet") or {}
    if s.get("ip_prefix") is None:
        return None
    try:
        return ipaddress.ip_network(f"{s['ip_prefix']}/{s.get('ip_prefix_len', 32)}", strict=False)
    except ValueError:
        raise IpamError(400, f"Invalid subnet {s.get('ip_prefix')}/{s.get('ip_prefix_len')}") \
            from None


def _repr_net(n: Network) -> str:
    return f"IPNetwork('{n}')"


def check_overlap(nets: Iterable[Network]) -> None:
    """400 when two subnets of one network (or flat IPAM) overlap."""
    seen: list[Network] = []
    for n in nets:
        for m in seen:
            if n.version == m.version and n.overlaps(m):
                raise IpamError(400, f"Overlapping addresses: [{_repr_net(m)}, {_repr_net(n)}]")
        seen.append(n)


def fill_subnet(sn: dict[str, Any], new_uuid: Callable[[], str] | None, *,
                reserve: bool = True) -> dict[str, Any]:
    """Fill what the server fills on a subnet: prefix normalised, subnet_uuid,
    default gateway and DNS address (top of the subnet unless addr_from_start)."""
    out = dict(sn)
    net = network_of(sn)
    if net is None:
        return out
    out["subnet"] = dict(sn["subnet"], ip_prefix=str(net.network_address),
                         ip_prefix_len=net.prefixlen)
    if new_uuid is not None and not out.get("subnet_uuid"):
        out["subnet_uuid"] = new_uuid()
    if not reserve:
        out["default_gateway"] = out.get("default_gateway") or "None"
        out["dns_server_address"] = out.get("dns_server_address") or "None"
        return out
    first, last = _host_bounds(net)
    from_start = bool(sn.get("addr_from_start"))
    gw = out.get("default_gateway")
    if gw in (None, ""):
        out["default_gateway"] = str(ipaddress.ip_address(first if from_start else last))
    else:
        _check_in(net, gw, "gateway")
    dns = out.get("dns_server_address")
    if dns in (None, ""):
        out["dns_server_address"] = str(ipaddress.ip_address(first + 1 if from_start else last - 1))
    else:
        _check_in(net, dns, "dns server")
    for i, pool in enumerate(out.get("allocation_pools") or []):
        for key in ("start", "end"):
            try:
                a = ipaddress.ip_address(pool.get(key))
            except ValueError:
                raise IpamError(400, f"allocation_pools[{i}].{key}: {pool.get(key)!r} "
                                     f"is not a valid IP address") from None
            if a not in net:
                raise IpamError(400, f"allocation_pools[{i}].{key}: {a} is not in {net}")
        if int(ipaddress.ip_address(pool["start"])) > int(ipaddress.ip_address(pool["end"])):
            raise IpamError(400, f"allocation_pools[{i}]: start {pool['start']} is after "
                                 f"end {pool['end']}")
    return out


def _host_bounds(net: Network) -> tuple[int, int]:
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if net.num_addresses <= 2:
        return lo, hi
    return lo + 1, hi - 1


def _check_in(net: Network, addr: str, what: str) -> None:
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        raise IpamError(400, f"{what} {addr!r} is not a valid IP address") from None
    if int(a) == 0 or a == ipaddress.ip_address("::"):
        return
    first, last = _host_bounds(net)
    if a.version != net.version or not first <= int(a) <= last:
        raise IpamError(409, f"{what} Ip {addr} out of cidr {net}")


def reserved(sn: dict[str, Any]) -> set[int]:
    """Addresses never handed out: network, broadcast, gateway, DNS."""
    net = network_of(sn)
    if net is None:
        return set()
    out = {int(net.network_address), int(net.broadcast_address)}
    for key in ("default_gateway", "dns_server_address"):
        v = sn.get(key)
        if v and v != "None":
            try:
                out.add(int(ipaddress.ip_address(v)))
            except ValueError:
                pass
    return out


def pool_ranges(sn: dict[str, Any]) -> list[tuple[int, int]]:
    pools = sn.get("allocation_pools") or []
    if pools:
        return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
                for p in pools]
    net = network_of(sn)
    if net is None:
        return []
    return [(int(net.network_address), int(net.broadcast_address))]


def allocate(sn: dict[str, Any], used: Container[int], count: int = 1,
             start: int | None = None) -> list[int]:
    """The next `count` free addresses of the subnet, highest first unless
    addr_from_start; fewer if it runs out. `start` skips the part of the scan
    known to be full (the caller's hint: every address before it is taken)."""
    skip = reserved(sn)
    step = max(1, int(sn.get("alloc_unit") or 1))
    out: list[int] = []
    ranges = pool_ranges(sn)
    if sn.get("addr_from_start"):
        for lo, hi in sorted(ranges):
            if start is not None and start > hi:
                continue
            a = lo + (-lo) % step
            if start is not None and start > a:
                a = start - (start - a) % step
            while a <= hi and len(out) < count:
                if a not in used and a not in skip:
                    out.append(a)
                a += step
    else:
        for lo, hi in sorted(ranges, reverse=True):
            if start is not None and start < lo:
                continue
            a = hi - hi % step
            if start is not None and start < a:
                a = start + (a - start) % step
            while a >= lo and len(out) < count:
                if a not in used and a not in skip:
                    out.append(a)
                a -= step
    return out


def contains(sn: dict[str, Any], addr: int, version: int) -> bool:
    net = network_of(sn)
    return net is not None and net.version == version and \
        int(net.network_address) <= addr <= int(net.broadcast_address)


def in_pools(sn: dict[str, Any], addr: int) -> bool:
    return any(lo <= addr <= hi for lo, hi in pool_ranges(sn))


def family_of(sn: dict[str, Any]) -> str | None:
    net = network_of(sn)
    return None if net is None else ("v4" if net.version == 4 else "v6")


def ip_str(addr: int, version: int) -> str:
    return str(ipaddress.IPv4Address(addr) if version == 4 else ipaddress.IPv6Address(addr))


def parse_ip(addr: str) -> tuple[int, int]:
    a = ipaddress.ip_address(addr)
    return int(a), a.version


def subnet_count(sn: dict[str, Any], used: set[int]) -> int:
    """Addresses in use in this subnet (what subnet-ip-count reports)."""
    net = network_of(sn)
    if net is None:
        return 0
    lo, hi = int(net.network_address), int(net.broadcast_address)
    return sum(1 for a in used if lo <= a <= hi)
