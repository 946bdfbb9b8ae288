"""The lean rtnetlink decoders observe uses: links, routes, neighbours/fdb entries from
dump bytes (built here as the kernel lays them out), unknown attributes skipped."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from filament.datapath.linux import rtnl


def attr(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def msg(kind: int, body: bytes, seq: int = 1) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 2, seq, 0) + body


def u32(x: int) -> bytes:
    return struct.pack("=I", x)


def ip(x: str) -> bytes:
    return socket.inet_aton(x)


def link(index: int, name: str, *extra: bytes) -> bytes:
    hdr = struct.pack("=BxHiII", 0, 1, index, 0x1043, 0)
    stats = attr(23, b"\x07" * 200)  # IFLA_STATS64 and the like: skipped by length
    return msg(rtnl.RTM_NEWLINK, hdr + attr(rtnl.IFLA_IFNAME, name.encode() + b"\0") + stats + b"".join(extra))


DONE = msg(rtnl.NLMSG_DONE, u32(0))


def test_links_vif_alias_and_vxlan_info():
    vx_data = attr(rtnl.IFLA_VXLAN_ID, u32(5)) + attr(rtnl.IFLA_VXLAN_LINK, u32(2)) + attr(rtnl.IFLA_VXLAN_LOCAL, ip("198.18.0.1"))
    linkinfo = attr(rtnl.IFLA_LINKINFO | 0x8000, attr(rtnl.IFLA_INFO_KIND, b"vxlan\0") + attr(rtnl.IFLA_INFO_DATA | 0x8000, vx_data))
    data = (link(7, "tap1", attr(rtnl.IFLA_MTU, u32(1550)), attr(rtnl.IFLA_ADDRESS, bytes.fromhex("00005e000100")),
                 attr(rtnl.IFLA_IFALIAS, b"filament:p1\0"))
            + link(9, "flvx5", attr(rtnl.IFLA_MTU, u32(1550)), attr(rtnl.IFLA_ADDRESS, bytes.fromhex("0200c6120001")), linkinfo)
            + link(1, "lo") + DONE)
    assert rtnl.decode_links(data) == [
        rtnl.Link(7, "tap1", 1550, "00:00:5e:00:01:00", "filament:p1"),
        rtnl.Link(9, "flvx5", 1550, "02:00:c6:12:00:01", "", "vxlan", 5, "198.18.0.1", 2),
        rtnl.Link(1, "lo"),
    ]


def route(table: int, dst: str, dst_len: int, rtype: int, *extra: bytes) -> bytes:
    hdr = struct.pack("=BBBBBBBBI", socket.AF_INET, dst_len, 0, 0, 252, 4, 0, rtype, 0)
    return msg(rtnl.RTM_NEWROUTE, hdr + attr(rtnl.RTA_TABLE, u32(table)) + (attr(rtnl.RTA_DST, ip(dst)) if dst_len else b"")
               + b"".join(extra))


def test_routes_plain_multipath_and_unreachable():
    hop = lambda oif, via: (lambda a: struct.pack("=HBBi", 8 + len(a), 4, 0, oif) + a)(attr(rtnl.RTA_GATEWAY, ip(via)))  # noqa: E731
    data = (route(0x10005, "100.64.1.11", 32, 1, attr(rtnl.RTA_OIF, u32(7)))
            + route(0x10005, "100.64.9.0", 24, 1, attr(rtnl.RTA_MULTIPATH | 0x8000, hop(9, "198.18.0.2") + hop(9, "198.18.0.3")))
            + route(0x10005, "0.0.0.0", 0, 7)
            + route(0x10005, "100.64.1.12", 32, 1, attr(rtnl.RTA_OIF, u32(9)), attr(rtnl.RTA_GATEWAY, ip("198.18.0.2")))
            + DONE)
    assert rtnl.decode_routes(data) == [
        rtnl.RouteEntry(0x10005, "100.64.1.11", 32, 1, ((7, ""),)),
        rtnl.RouteEntry(0x10005, "100.64.9.0", 24, 1, ((9, "198.18.0.2"), (9, "198.18.0.3"))),
        rtnl.RouteEntry(0x10005, "0.0.0.0", 0, 7),
        rtnl.RouteEntry(0x10005, "100.64.1.12", 32, 1, ((9, "198.18.0.2"),)),
    ]


def test_neighbours_and_fdb_entries():
    nd = lambda fam, idx, state, *a: msg(rtnl.RTM_NEWNEIGH, struct.pack("=BxxxiHBB", fam, idx, state, 0, 1) + b"".join(a))  # noqa: E731
    data = (nd(socket.AF_INET, 7, 0x80, attr(rtnl.NDA_DST, ip("100.64.1.11")), attr(rtnl.NDA_LLADDR, bytes.fromhex("020000000111")))
            + nd(rtnl.AF_BRIDGE, 9, 0x80, attr(rtnl.NDA_LLADDR, bytes.fromhex("0200c6120002")), attr(rtnl.NDA_DST, ip("198.18.0.2")))
            + nd(socket.AF_INET, 3, 0x02) + DONE)
    assert rtnl.decode_neighs(data) == [
        rtnl.Neigh(socket.AF_INET, 7, 0x80, "100.64.1.11", "02:00:00:00:01:11"),
        rtnl.Neigh(rtnl.AF_BRIDGE, 9, 0x80, "198.18.0.2", "02:00:c6:12:00:02"),
        rtnl.Neigh(socket.AF_INET, 3, 0x02),
    ]


def test_a_netlink_error_raises_with_its_errno():
    data = msg(rtnl.NLMSG_ERROR, struct.pack("=i", -errno.EPERM) + b"\0" * 16)
    with pytest.raises(OSError) as ei:
        rtnl.decode_links(data)
    assert ei.value.errno == errno.EPERM


def test_truncated_input_stops_without_reading_past_the_end():
    whole = link(7, "tap1", attr(rtnl.IFLA_IFALIAS, b"filament:p1\0"))
    assert rtnl.decode_links(whole[:-3]) == []  # the message is cut: not decoded at all
    bad_attr = msg(rtnl.RTM_NEWLINK, struct.pack("=BxHiII", 0, 1, 7, 0, 0) + struct.pack("=HH", 2, rtnl.IFLA_IFNAME))
    assert rtnl.decode_links(bad_attr) == [rtnl.Link(7, "")]
