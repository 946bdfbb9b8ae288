"""Read what a rendered ruleset (``filament.datapath.nft.render``) does to a packet, so
tests assert behaviour (this interface marks this table, this flow gets this zone) rather
than exact text. Understands only the shapes the renderer produces."""

from __future__ import annotations

import re


def _table(text: str, family: str) -> str:
    return text.split(f"table {family} filament {{", 1)[1].split("\n}\n", 1)[0]


def _chain(text: str, family: str, chain: str) -> list[str]:
    body = _table(text, family).split(f"chain {chain} {{", 1)[1].split("\n  }", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


def _pairs(inner: str) -> dict[str, str]:
    """Map entries (key -> value), or set elements (key -> "")."""
    out = {}
    for e in inner.split(", "):
        k, _, v = e.partition(" : ")
        out[k.strip().strip('"')] = v.strip()
    return out


def _map(line: str, text: str = "", family: str = "inet") -> dict[str, str]:
    """The entries of the map a rule looks up: inline (``map { … }``) or named (``@name``)."""
    if "@" in line:
        name = line.split("@", 1)[1].split()[0]
        decl = next((ln for ln in _table(text, family).splitlines()
                     if ln.strip().startswith((f"map {name} {{", f"set {name} {{"))), "")
        if "elements = {" not in decl:
            return {}
        return _pairs(decl.split("elements = {", 1)[1].split("}", 1)[0])
    return _pairs(line.split("map {", 1)[1].rsplit("}", 1)[0])


def mark_of(text: str, iif: str, family: str = "inet") -> int | None:
    """The mark (routing table) a packet entering from ``iif`` gets (``family`` arp: an
    ARP request), or None."""
    chain = "pre" if family == "inet" else "in"
    for line in _chain(text, family, chain):
        if line.startswith("meta mark set iifname map"):
            got = _map(line.removesuffix(" notrack"), text, family).get(iif)
            return int(got, 16) if got else None
    return None


def _in_set(text: str, name: str, key: str) -> bool:
    return key in _map(f"x map @{name}", text)


def zone_of(text: str, table: int, daddr: str, iif: str = "") -> int | None:
    """The conntrack zone the ``pre`` chain gives a packet marked ``table`` (entering
    from ``iif``) going to ``daddr``: the first matching ``ct zone set`` wins (the kernel
    ignores later ones); None if the packet is not tracked."""
    zones: dict[int, int] = {}
    for line in _chain(text, "inet", "pre"):
        m = re.match(r"meta mark (0x[0-9a-f]+) ip daddr ([\d.]+)(?:/32)? ct zone set (\d+)", line)
        if m and int(m.group(1), 16) == table and m.group(2) == daddr:
            return int(m.group(3))
        if "ct zone set meta mark map" in line:
            zones = {int(k, 16): int(v) for k, v in _map(line.split("ct zone set ", 1)[1], text).items()}
            if line.startswith("iifname @") and not _in_set(text, line.split("@")[1].split()[0], iif):
                continue
            if line.startswith("ip daddr @") and not _in_set(text, line.split("@")[1].split()[0], daddr):
                continue
            if table in zones:
                return zones[table]
        if line.endswith("notrack"):
            return None
    raise AssertionError(f"no zone for {table:#x} -> {daddr}")


def acl_entry(text: str, vif: str, direction: str) -> list[str]:
    """The stage chains a new flow from (egress) / to (ingress) ``vif`` goes through, in order."""
    key = "iifname" if direction == "egress" else "oifname"
    for line in _chain(text, "inet", "acl"):
        if line.startswith(f"{key} vmap"):
            target = _map(line.replace("vmap", "map"), text).get(vif)
            if target is None:
                return []
            return [j.split()[1] for j in _chain(text, "inet", target.split()[1])]
    return []
