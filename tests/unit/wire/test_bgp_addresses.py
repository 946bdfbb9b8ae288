"""The IPv4 fast paths of the codecs (no ipaddress per route) agree with ipaddress."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filament.wire.bgp.common import RouteDistinguisher, ip_bytes, ip_str, prefix_bytes, prefix_str, v4_int


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_ipv4_prefixes_match_ipaddress(addr, plen):
    text = f"{ipaddress.IPv4Address(addr)}/{plen}"
    net = ipaddress.ip_network(text, strict=False)
    assert prefix_bytes(text) == (plen, net.network_address.packed[: (plen + 7) // 8])
    assert prefix_str(1, plen, addr.to_bytes(4, "big")[: (plen + 7) // 8]) == str(net)
    dotted = str(ipaddress.IPv4Address(addr))
    assert ip_str(addr.to_bytes(4, "big")) == dotted and ip_bytes(dotted) == addr.to_bytes(4, "big")
    rd = RouteDistinguisher(1, addr, plen)
    assert str(rd) == f"{dotted}:{plen}" and RouteDistinguisher.parse(str(rd)) == rd


@pytest.mark.parametrize("text", ["1.2.3", "01.2.3.4", "1.2.3.256", "a.b.c.d", "1.2.3.4.5", "", "1..2.3", "\u0661.2.3.4", "+1.2.3.4"])
def test_not_a_dotted_quad_falls_back(text):
    assert v4_int(text) is None


def test_fallback_keeps_ipaddress_errors_and_ipv6():
    with pytest.raises(ValueError):
        prefix_bytes("1.2.3.4/33")
    with pytest.raises(ValueError):
        ip_bytes("01.2.3.4")
    assert prefix_bytes("2001:db8::1/32") == (32, bytes.fromhex("20010db8"))
    assert prefix_bytes("10.1.2.3") == (32, bytes([10, 1, 2, 3]))
