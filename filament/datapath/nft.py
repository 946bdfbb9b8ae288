"""Render the nftables side of the datapath (pure): one owned table ``inet filament``.

Per routing instance: packets entering from its vifs or its VXLAN device get the
instance's conntrack zone (overlapping subnets stay apart) and its table id as mark.
The mark (with ``net.ipv4.fwmark_reflect=1``) makes replies the host itself generates
— gateway echo replies, ICMP frag-needed — route through the instance's table. The
mark is cleared after the forwarding decision so VXLAN's underlay lookup is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE = "filament"


@dataclass(frozen=True, slots=True, order=True)
class ZoneBinding:
    iif: str
    table: int
    zone: int


def zone_for_vni(vni: int) -> int:
    return vni % 65534 + 1


def render(bindings: list[ZoneBinding]) -> str:
    if not bindings:
        return ""
    pre = "".join(
        f'    iifname "{b.iif}" meta mark set {b.table:#x} ct zone set {b.zone}\n' for b in sorted(bindings)
    )
    out = "".join(
        f"    meta mark {t:#x} ct zone set {z}\n" for t, z in sorted({(b.table, b.zone) for b in bindings})
    )
    return (
        f"table inet {TABLE} {{\n"
        "  chain pre {\n    type filter hook prerouting priority raw; policy accept;\n"
        f"{pre}  }}\n"
        "  chain out {\n    type filter hook output priority raw; policy accept;\n"
        f"{out}  }}\n"
        "  chain post_fwd {\n    type filter hook forward priority 100; policy accept;\n"
        "    meta mark set 0\n  }\n"
        "}\n"
    )
