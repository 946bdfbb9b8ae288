"""IPAM as the original does it: table-driven."""

import pytest

from filament.config import ipam


def sn(prefix, plen, **kw):
    return {"subnet": {"ip_prefix": prefix, "ip_prefix_len": plen}, **kw}


@pytest.mark.parametrize("given, gw, dns", [
    (sn("10.1.0.0", 24), "10.1.0.254", "10.1.0.253"),
    (sn("10.1.0.0", 24, addr_from_start=True), "10.1.0.1", "10.1.0.2"),
    (sn("10.1.0.77", 24), "10.1.0.254", "10.1.0.253"),          # normalised prefix
    (sn("10.1.0.0", 24, default_gateway="10.1.0.1"), "10.1.0.1", "10.1.0.253"),
    (sn("fd00::", 64), "fd00::ffff:ffff:ffff:fffe", "fd00::ffff:ffff:ffff:fffd"),
    (sn("192.168.5.0", 30), "192.168.5.2", "192.168.5.1"),
])
def test_fill_defaults(given, gw, dns):
    out = ipam.fill_subnet(given, lambda: "u-1")
    assert out["default_gateway"] == gw
    assert out["dns_server_address"] == dns
    assert out["subnet_uuid"] == "u-1"
    assert out["subnet"]["ip_prefix"] == str(ipam.network_of(given).network_address)


@pytest.mark.parametrize("given, status", [
    (sn("10.1.0.0", 24, default_gateway="10.2.0.1"), 409),
    (sn("10.1.0.0", 24, default_gateway="10.1.0.255"), 409),
    (sn("10.1.0.0", 33), 400),
    (sn("10.1.0.0", 24, allocation_pools=[{"start": "10.1.0.10", "end": "10.1.1.5"}]), 400),
    (sn("10.1.0.0", 24, allocation_pools=[{"start": "10.1.0.20", "end": "10.1.0.10"}]), 400),
])
def test_fill_rejects(given, status):
    with pytest.raises(ipam.IpamError) as exc:
        ipam.fill_subnet(given, None)
    assert exc.value.status == status


def test_gateway_zero_allowed():
    out = ipam.fill_subnet(sn("10.1.0.0", 24, default_gateway="0.0.0.0"), None)
    assert out["default_gateway"] == "0.0.0.0"


@pytest.mark.parametrize("subnet, used, want", [
    (sn("10.1.0.0", 24), set(), ["10.1.0.252", "10.1.0.251", "10.1.0.250"]),
    (sn("10.1.0.0", 24, addr_from_start=True), set(), ["10.1.0.3", "10.1.0.4", "10.1.0.5"]),
    (sn("10.1.0.0", 24), {"10.1.0.252"}, ["10.1.0.251", "10.1.0.250", "10.1.0.249"]),
    (sn("10.1.0.0", 24, allocation_pools=[{"start": "10.1.0.10", "end": "10.1.0.11"}]),
     set(), ["10.1.0.11", "10.1.0.10"]),
    (sn("10.1.0.0", 24, addr_from_start=True,
        allocation_pools=[{"start": "10.1.0.1", "end": "10.1.0.4"}]), set(), ["10.1.0.3", "10.1.0.4"]),
    (sn("10.1.0.0", 30), set(), []),                              # .1 dns, .2 gw: nothing left
])
def test_allocation_order(subnet, used, want):
    filled = ipam.fill_subnet(subnet, None)
    used_ints = {ipam.parse_ip(a)[0] for a in used}
    got = ipam.allocate(filled, used_ints, count=3)
    assert [ipam.ip_str(a, 4) for a in got] == want


def test_alloc_unit_aligns():
    filled = ipam.fill_subnet(sn("10.1.0.0", 24, alloc_unit=4), None)
    got = ipam.allocate(filled, set(), count=2)
    assert all(a % 4 == 0 for a in got)


def test_overlap():
    nets = [ipam.network_of(sn("10.1.0.0", 24)), ipam.network_of(sn("10.1.0.0", 25))]
    with pytest.raises(ipam.IpamError) as exc:
        ipam.check_overlap(nets)
    assert "Overlapping addresses" in exc.value.message and exc.value.status == 400
    ipam.check_overlap([ipam.network_of(sn("10.1.0.0", 24)), ipam.network_of(sn("fd00::", 64))])


def test_reserved_and_count():
    filled = ipam.fill_subnet(sn("10.1.0.0", 24), None)
    r = {ipam.ip_str(a, 4) for a in ipam.reserved(filled)}
    assert r == {"10.1.0.0", "10.1.0.255", "10.1.0.254", "10.1.0.253"}
    used = {ipam.parse_ip("10.1.0.5")[0], ipam.parse_ip("10.2.0.5")[0]}
    assert ipam.subnet_count(filled, used) == 1
