"""Typed messages of the original's XMPP dialect (control node <-> vRouter agent)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONTROL_JID = "network-control@contrailsystems.com"
PUBSUB_NS = "http://jabber.org/protocol/pubsub"
EOR_NODE = "0/0/EndOfRib"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"

# (afi, xmpp safi) -> family keyword used in table names
FAMILIES: dict[tuple[int, int], str] = {
    (1, 1): "inet",
    (2, 1): "inet6",
    (25, 242): "evpn",
    (1, 241): "ermvpn",
}
AFI_SAFI: dict[str, tuple[int, int]] = {v: k for k, v in FAMILIES.items()}
MAX_ITEMS_PER_MESSAGE = 32
MAX_RETRACTS_PER_MESSAGE = 256


class XmppDecodeError(ValueError):
    """A stanza is not well formed or not a message of the dialect."""


class ItemError(ValueError):
    """One route item is invalid; the item is rejected, the session stays up."""


@dataclass(frozen=True, slots=True)
class NextHop:
    address: str
    af: int = 1
    mac: str = ""
    label: int = 0
    label_block: str = ""  # ermvpn agent->CN: "start-end"
    l3_label: int = 0
    vni: int = 0
    encap: tuple[str, ...] = ()
    virtual_network: str = ""
    tags: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """One `<entry>` of any family (unicast, enet, mcast); unused fields stay default."""

    afi: int
    safi: int
    address: str = ""  # inet prefix, or evpn "ip/len"
    mac: str = ""
    ethernet_tag: int = 0
    group: str = ""
    source: str = ""
    next_hops: tuple[NextHop, ...] = ()
    olist: tuple[NextHop, ...] = ()
    local_pref: int = 0
    med: int = 0
    sequence: int = 0
    sticky: bool = False
    security_groups: tuple[int, ...] = ()
    communities: tuple[str, ...] = ()
    virtual_network: str = ""
    sub_protocol: str = ""
    etree_leaf: bool = False
    load_balance: tuple[str, ...] = ()
    source_label: int = 0
    source_address: str = ""

    @property
    def family(self) -> str:
        return FAMILIES.get((self.afi, self.safi), f"{self.afi}/{self.safi}")


# ---- agent -> control node (iq) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribe:
    node: str
    instance_id: int | None = None
    channel: str = "bgp"  # "bgp" (routing instance) or "config" (virtual-router/vm)
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    node: str
    channel: str = "bgp"
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Publish:
    """A publish iq: one item (or none: the original takes an empty publish as EoR)."""

    node: str
    entry: RouteEntry | None = None
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Collection:
    """The collection iq that commits (associate) or withdraws (dissociate) a publish."""

    node: str
    associate: tuple[str, ...] = ()
    dissociate: tuple[str, ...] = ()
    sender: str = ""


@dataclass(frozen=True, slots=True)
class EndOfRib:
    sender: str = ""


# ---- control node -> agent (message) --------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteUpdate:
    """One `<message>` for one table: reach items or retracts, never both."""

    node: str  # "<afi>/<safi>/<ri>"
    items: tuple[tuple[str, RouteEntry], ...] = ()
    retracts: tuple[str, ...] = ()
    to: str = ""


# ---- config (IFMap over XMPP) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigNode:
    type: str
    name: str
    props: dict = field(default_factory=dict, compare=True, hash=False)


@dataclass(frozen=True, slots=True)
class ConfigLink:
    left: tuple[str, str]  # (type, name)
    right: tuple[str, str]
    metadata: str


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    """A config iq: ordered ("update"|"delete", ConfigNode|ConfigLink) operations."""

    ops: tuple[tuple[str, ConfigNode | ConfigLink], ...]
    to: str = ""
