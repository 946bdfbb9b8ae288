"""Route item (`<entry>`) codecs per family: unicast (1/1, 2/1), enet (25/242), mcast (1/241)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from filament.wire.xmpp.model import ItemError, NextHop, RouteEntry
from filament.wire.xmpp.xml import esc, integer, text

MAX_LABEL = (1 << 20) - 1


# ---- encode -----------------------------------------------------------------------


def _encaps(encap: tuple[str, ...]) -> str:
    if not encap:
        return "<tunnel-encapsulation-list></tunnel-encapsulation-list>"
    inner = "".join(f"<tunnel-encapsulation>{esc(e)}</tunnel-encapsulation>" for e in encap)
    return f"<tunnel-encapsulation-list>{inner}</tunnel-encapsulation-list>"


def _tags(tags: tuple[int, ...]) -> str:
    return "<tag-list>" + "".join(f"<tag>{t}</tag>" for t in tags) + "</tag-list>"


def _sgs(sgs: tuple[int, ...]) -> str:
    return "<security-group-list>" + "".join(f"<security-group>{s}</security-group>" for s in sgs) + "</security-group-list>"


def _unicast_nh(nh: NextHop) -> str:
    return (
        f"<next-hop><af>{nh.af}</af><address>{esc(nh.address)}</address><mac>{esc(nh.mac)}</mac>"
        f"<label>{nh.label}</label><vni>{nh.vni}</vni>{_encaps(nh.encap)}"
        f"<virtual-network>{esc(nh.virtual_network)}</virtual-network>{_tags(nh.tags)}"
        f"<local-sequence-number>0</local-sequence-number></next-hop>"
    )


def _enet_nh(nh: NextHop) -> str:
    return (
        f"<next-hop><af>{nh.af}</af><address>{esc(nh.address)}</address><mac>{esc(nh.mac)}</mac>"
        f"<label>{nh.label}</label><l3-label>{nh.l3_label}</l3-label>{_encaps(nh.encap)}"
        f"{_tags(nh.tags)}<local-sequence-number>0</local-sequence-number></next-hop>"
    )


def _mcast_nh(nh: NextHop) -> str:
    label = nh.label_block or str(nh.label)
    return (
        f"<next-hop><af>{nh.af}</af><address>{esc(nh.address)}</address>"
        f"<label>{esc(label)}</label>{_encaps(nh.encap)}</next-hop>"
    )


def _load_balance(fields: tuple[str, ...]) -> str:
    inner = "".join(f"<load-balance-field-list>{esc(f)}</load-balance-field-list>" for f in fields)
    return (
        f"<load-balance><load-balance-fields>{inner}</load-balance-fields>"
        f"<load-balance-decision>field-hash</load-balance-decision></load-balance>"
    )


def encode_entry(e: RouteEntry) -> str:
    """The `<entry>…</entry>` text for ``e`` in its family's XSD element order."""
    fam = (e.afi, e.safi)
    mobility = f'<mobility sticky="{"true" if e.sticky else "false"}" seqno="{e.sequence}"></mobility>'
    if fam == (25, 242):
        olist = "".join(_enet_nh(n) for n in e.olist)
        return (
            f"<entry><nlri><af>{e.afi}</af><safi>{e.safi}</safi><ethernet-tag>{e.ethernet_tag}</ethernet-tag>"
            f"<mac>{esc(e.mac)}</mac><address>{esc(e.address)}</address><group>{esc(e.group)}</group>"
            f"<source>{esc(e.source)}</source><flags>0</flags></nlri>"
            f"<next-hops>{''.join(_enet_nh(n) for n in e.next_hops)}</next-hops>"
            f"<olist>{olist}</olist><virtual-network>{esc(e.virtual_network)}</virtual-network>{mobility}"
            f"<sequence-number>{e.sequence}</sequence-number>{_sgs(e.security_groups)}"
            f"<local-preference>{e.local_pref}</local-preference><med>{e.med}</med>"
            f"<etree-leaf>{'true' if e.etree_leaf else 'false'}</etree-leaf></entry>"
        )
    if fam == (1, 241):
        return (
            f"<entry><nlri><af>{e.afi}</af><safi>{e.safi}</safi><group>{esc(e.group)}</group>"
            f"<source>{esc(e.source)}</source><source-label>{e.source_label}</source-label>"
            f"<source-address>{esc(e.source_address)}</source-address></nlri>"
            f"<next-hops>{''.join(_mcast_nh(n) for n in e.next_hops)}</next-hops>"
            f"<olist>{''.join(_mcast_nh(n) for n in e.olist)}</olist></entry>"
        )
    comm = "".join(f"<community-tag>{esc(c)}</community-tag>" for c in e.communities)
    sub = f"<sub-protocol>{esc(e.sub_protocol)}</sub-protocol>" if e.sub_protocol else ""
    return (
        f"<entry><nlri><af>{e.afi}</af><safi>{e.safi}</safi><address>{esc(e.address)}</address></nlri>"
        f"<next-hops>{''.join(_unicast_nh(n) for n in e.next_hops)}</next-hops>"
        f"<version>1</version><virtual-network>{esc(e.virtual_network)}</virtual-network>{mobility}"
        f"<sequence-number>{e.sequence}</sequence-number>{_sgs(e.security_groups)}"
        f"<community-tag-list>{comm}</community-tag-list>"
        f"<local-preference>{e.local_pref}</local-preference><med>{e.med}</med>"
        f"{_load_balance(e.load_balance)}{sub}</entry>"
    )


# ---- decode -----------------------------------------------------------------------


def _ints(el: ET.Element | None, tag: str) -> tuple[int, ...]:
    if el is None:
        return ()
    out = []
    for child in el.iter(tag):
        try:
            out.append(int((child.text or "").strip()))
        except ValueError:
            raise ItemError(f"<{tag}> is not an integer") from None
    return tuple(out)


def _strs(el: ET.Element | None, tag: str) -> tuple[str, ...]:
    if el is None:
        return ()
    return tuple((c.text or "").strip() for c in el.iter(tag) if (c.text or "").strip())


def _decode_nh(el: ET.Element, mcast: bool) -> NextHop:
    label_text = text(el, "label")
    label, block = 0, ""
    if mcast and "-" in label_text:
        block = label_text
        lo, _, hi = label_text.partition("-")
        if not (lo.isdigit() and hi.isdigit()) or int(lo) == 0 or int(hi) < int(lo):
            raise ItemError(f"bad label block {label_text[:32]!r}")
    else:
        label = integer(el, "label", ItemError)
        if label < 0 or label > MAX_LABEL:
            raise ItemError(f"label {label} out of range")
    return NextHop(
        address=text(el, "address"),
        af=integer(el, "af", ItemError, 1),
        mac=text(el, "mac"),
        label=label,
        label_block=block,
        l3_label=integer(el, "l3-label", ItemError),
        vni=integer(el, "vni", ItemError),
        encap=_strs(el.find("tunnel-encapsulation-list"), "tunnel-encapsulation"),
        virtual_network=text(el, "virtual-network"),
        tags=_ints(el.find("tag-list"), "tag"),
    )


def decode_entry(entry: ET.Element) -> RouteEntry:
    """Decode one `<entry>` element; raises ItemError for an unusable item."""
    nlri = entry.find("nlri")
    if nlri is None:
        raise ItemError("entry without nlri")
    afi = integer(nlri, "af", ItemError)
    safi = integer(nlri, "safi", ItemError)
    mcast = (afi, safi) == (1, 241)
    nhs_el = entry.find("next-hops")
    nhs = tuple(_decode_nh(n, mcast) for n in nhs_el.findall("next-hop")) if nhs_el is not None else ()
    ol_el = entry.find("olist")
    olist = tuple(_decode_nh(n, mcast) for n in ol_el.findall("next-hop")) if ol_el is not None else ()
    mob = entry.find("mobility")
    seq = integer(entry, "sequence-number", ItemError)
    sticky = False
    if mob is not None:
        try:
            seq = int(mob.get("seqno", seq) or 0) or seq
        except ValueError:
            raise ItemError("bad mobility seqno") from None
        sticky = mob.get("sticky", "false") == "true"
    lb = entry.find("load-balance")
    return RouteEntry(
        afi=afi,
        safi=safi,
        address=text(nlri, "address"),
        mac=text(nlri, "mac").lower(),
        ethernet_tag=integer(nlri, "ethernet-tag", ItemError),
        group=text(nlri, "group"),
        source=text(nlri, "source"),
        next_hops=nhs,
        olist=olist,
        local_pref=integer(entry, "local-preference", ItemError),
        med=integer(entry, "med", ItemError),
        sequence=seq,
        sticky=sticky,
        security_groups=_ints(entry.find("security-group-list"), "security-group"),
        communities=_strs(entry.find("community-tag-list"), "community-tag"),
        virtual_network=text(entry, "virtual-network"),
        sub_protocol=text(entry, "sub-protocol"),
        etree_leaf=text(entry, "etree-leaf") == "true",
        load_balance=_strs(lb.find("load-balance-fields") if lb is not None else None, "load-balance-field-list"),
        source_label=integer(nlri, "source-label", ItemError),
        source_address=text(nlri, "source-address"),
    )


# ---- item ids and publish nodes ---------------------------------------------------


def item_id(e: RouteEntry, rd: str = "") -> str:
    """The `item id` the control node uses toward the agent for ``e``."""
    fam = (e.afi, e.safi)
    if fam == (25, 242):
        base = f"{e.mac},{e.address}"
        if e.group:
            base += f",{e.group},{e.source}"
        return f"{e.ethernet_tag}-{base}" if e.ethernet_tag else base
    if fam == (1, 241):
        return f"{rd}:{e.group},{e.source}"
    return e.address


def publish_node(e: RouteEntry, vrf: str) -> str:
    """The publish node string the reference agent uses for ``e`` in ``vrf``."""
    fam = (e.afi, e.safi)
    if fam == (25, 242):
        node = f"25/242/{e.mac},{e.address}"
        return node + (f",{e.group},{e.source}" if e.group else "")
    if fam == (1, 241):
        return f"1/241/{vrf}/{e.group}"
    return f"{e.afi}/{e.safi}/{vrf}/{e.address}"
