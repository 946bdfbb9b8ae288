"""Minimal rtnetlink dumps for observing the datapath: links, IPv4 routes, neighbour and
fdb entries.

pyroute2 decodes every attribute of every link (per-device IPv4/IPv6 settings, stats...):
about 0.3 ms a link, which made observing a host with a few hundred ports take ~100 ms.
Observing needs a handful of fields, so the decoders here (pure functions of the dump's
bytes) read only those and skip the rest by length. Requests and the socket stay thin.
"""

from __future__ import annotations

import errno as _errno
import socket
import struct
from dataclasses import dataclass

NLMSG = struct.Struct("=IHHII")  # length, type, flags, seq, pid
NLMSGERR = struct.Struct("=i")
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
RTNEXTHOP = struct.Struct("=HBBi")  # length, flags, hops, ifindex
RTA = struct.Struct("=HH")  # length, type
NLA_TYPE_MASK = 0x3FFF  # without the NESTED / BYTEORDER flags

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTM_NEWLINK, RTM_GETLINK, RTM_NEWROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_GETNEIGH = 16, 18, 24, 26, 28, 30
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_EXT_MASK = 1, 3, 4, 18, 20, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL = 1, 3, 4
NDA_DST, NDA_LLADDR = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 9, 15
RTEXT_FILTER_SKIP_STATS = 1 << 3
AF_BRIDGE = 7


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    name: str
    mtu: int = 0
    address: str = ""
    alias: str = ""
    kind: str = ""
    vxlan_id: int = 0
    vxlan_local: str = ""
    vxlan_link: int = 0


@dataclass(frozen=True, slots=True)
class Neigh:
    """A neighbour (``AF_INET``) or fdb (``AF_BRIDGE``) entry: ``dst`` is the IP (for
    fdb, the remote VTEP), ``lladdr`` the MAC."""

    family: int
    ifindex: int
    state: int
    dst: str = ""
    lladdr: str = ""


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """An IPv4 route: ``nexthops`` = (oif, gateway) pairs (one for a plain route, none
    for unreachable/local-without-oif)."""

    table: int
    dst: str
    dst_len: int
    type: int
    nexthops: tuple[tuple[int, str], ...] = ()


def _attrs(data: bytes, start: int, end: int):
    """(type, value start, value end) of each attribute in ``data[start:end]``."""
    while start + 4 <= end:
        length, kind = RTA.unpack_from(data, start)
        if length < 4 or start + length > end:
            break
        yield kind & NLA_TYPE_MASK, start + 4, start + length
        start += (length + 3) & ~3


def _str(data: bytes, a: int, b: int) -> str:
    return data[a:b].split(b"\0", 1)[0].decode(errors="replace")


def _mac(data: bytes, a: int, b: int) -> str:
    return ":".join(f"{x:02x}" for x in data[a:b])


def _ip(data: bytes, a: int, b: int) -> str:
    return socket.inet_ntop(socket.AF_INET if b - a == 4 else socket.AF_INET6, data[a:b])


def messages(data: bytes):
    """(type, payload start, end) of each netlink message; raises OSError on NLMSG_ERROR."""
    pos = 0
    while pos + NLMSG.size <= len(data):
        length, kind, _, _, _ = NLMSG.unpack_from(data, pos)
        if length < NLMSG.size or pos + length > len(data):
            break
        if kind == NLMSG_ERROR:
            code = -NLMSGERR.unpack_from(data, pos + NLMSG.size)[0]
            if code:
                raise OSError(code, f"netlink: {_errno.errorcode.get(code, code)}")
        yield kind, pos + NLMSG.size, pos + length
        pos += (length + 3) & ~3


def decode_link(data: bytes, a: int, b: int) -> Link:
    _, _, index, _, _ = IFINFOMSG.unpack_from(data, a)
    f: dict = {"index": index, "name": ""}
    for kind, x, y in _attrs(data, a + IFINFOMSG.size, b):
        if kind == IFLA_IFNAME:
            f["name"] = _str(data, x, y)
        elif kind == IFLA_MTU:
            f["mtu"] = struct.unpack_from("=I", data, x)[0]
        elif kind == IFLA_ADDRESS:
            f["address"] = _mac(data, x, y)
        elif kind == IFLA_IFALIAS:
            f["alias"] = _str(data, x, y)
        elif kind == IFLA_LINKINFO:
            for ik, ix, iy in _attrs(data, x, y):
                if ik == IFLA_INFO_KIND:
                    f["kind"] = _str(data, ix, iy)
                elif ik == IFLA_INFO_DATA and f.get("kind") == "vxlan":
                    for vk, vx, vy in _attrs(data, ix, iy):
                        if vk == IFLA_VXLAN_ID:
                            f["vxlan_id"] = struct.unpack_from("=I", data, vx)[0]
                        elif vk == IFLA_VXLAN_LINK:
                            f["vxlan_link"] = struct.unpack_from("=I", data, vx)[0]
                        elif vk == IFLA_VXLAN_LOCAL:
                            f["vxlan_local"] = _ip(data, vx, vy)
    return Link(**f)


def decode_neigh(data: bytes, a: int, b: int) -> Neigh:
    family, ifindex, state, _, _ = NDMSG.unpack_from(data, a)
    dst = lladdr = ""
    for kind, x, y in _attrs(data, a + NDMSG.size, b):
        if kind == NDA_DST:
            dst = _ip(data, x, y)
        elif kind == NDA_LLADDR:
            lladdr = _mac(data, x, y)
    return Neigh(family, ifindex, state, dst, lladdr)


def decode_route(data: bytes, a: int, b: int) -> RouteEntry:
    family, dst_len, _, _, table, _, _, rtype, _ = RTMSG.unpack_from(data, a)
    dst, oif, gateway, hops = "", 0, "", []
    for kind, x, y in _attrs(data, a + RTMSG.size, b):
        if kind == RTA_TABLE:
            table = struct.unpack_from("=I", data, x)[0]
        elif kind == RTA_DST:
            dst = _ip(data, x, y)
        elif kind == RTA_OIF:
            oif = struct.unpack_from("=i", data, x)[0]
        elif kind == RTA_GATEWAY:
            gateway = _ip(data, x, y)
        elif kind == RTA_MULTIPATH:
            while x + RTNEXTHOP.size <= y:
                length, _, _, ifindex = RTNEXTHOP.unpack_from(data, x)
                if length < RTNEXTHOP.size or x + length > y:
                    break
                via = next((_ip(data, gx, gy) for gk, gx, gy in _attrs(data, x + RTNEXTHOP.size, x + length)
                            if gk == RTA_GATEWAY), "")
                hops.append((ifindex, via))
                x += (length + 3) & ~3
    if not hops and oif:
        hops.append((oif, gateway))
    return RouteEntry(table, dst or ("0.0.0.0" if family == socket.AF_INET else "::"), dst_len, rtype, tuple(hops))


def decode_routes(data: bytes) -> list[RouteEntry]:
    return [decode_route(data, a, b) for kind, a, b in messages(data) if kind == RTM_NEWROUTE]


def decode_links(data: bytes) -> list[Link]:
    return [decode_link(data, a, b) for kind, a, b in messages(data) if kind == RTM_NEWLINK]


def decode_neighs(data: bytes) -> list[Neigh]:
    return [decode_neigh(data, a, b) for kind, a, b in messages(data) if kind == RTM_NEWNEIGH]


def link_dump_request(seq: int) -> bytes:
    ext = RTA.pack(8, IFLA_EXT_MASK) + struct.pack("=I", RTEXT_FILTER_SKIP_STATS)
    body = IFINFOMSG.pack(0, 0, 0, 0, 0) + ext
    return NLMSG.pack(NLMSG.size + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def route_dump_request(seq: int, family: int = socket.AF_INET) -> bytes:
    body = RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return NLMSG.pack(NLMSG.size + len(body), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def neigh_dump_request(seq: int, family: int) -> bytes:
    body = NDMSG.pack(family, 0, 0, 0, 0)
    return NLMSG.pack(NLMSG.size + len(body), RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


class Dumper:
    """One NETLINK_ROUTE socket (opened in the caller's current netns) for dumps."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self.seq = 0

    def dump(self, request) -> bytes:
        """Send a dump request (a function of the sequence number); all its replies."""
        self.seq += 1
        self.sock.send(request(self.seq))
        chunks = []
        while True:
            data = self.sock.recv(1 << 20)
            done = False
            for kind, a, _ in messages(data):
                if kind == NLMSG_DONE:
                    done = True
            chunks.append(data)
            if done:
                return b"".join(chunks)

    def links(self) -> list[Link]:
        return decode_links(self.dump(link_dump_request))

    def routes(self) -> list[RouteEntry]:
        return decode_routes(self.dump(route_dump_request))

    def neighbours(self, family: int = socket.AF_INET) -> list[Neigh]:
        return decode_neighs(self.dump(lambda seq: neigh_dump_request(seq, family)))

    def close(self) -> None:
        self.sock.close()
