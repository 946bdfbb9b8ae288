"""What the agent has seen (typed): its host, networks, local ports and the routes the
control node sent. The desired datapath state is a pure function of one ``AgentView``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Host:
    vtep: str  # underlay (vhost0) address, the next hop this vRouter publishes
    underlay_dev: str
    underlay_mtu: int = 1500
    name: str = ""


@dataclass(frozen=True, slots=True)
class Subnet:
    prefix: str  # "100.64.1.0/24"
    gateway: str = ""


@dataclass(frozen=True, slots=True)
class AclAddress:
    """One side of an ACL entry: kind "any" | "local" | "network" (VN fq-name) |
    "group" (security_group_id) | "prefix" (CIDR)."""

    kind: str
    value: str = ""


ANY = AclAddress("any")


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One ``access_control_list_entries.acl_rule`` as delivered in config (typed)."""

    uuid: str
    action: str  # "pass" | "deny"
    protocol: str = "any"  # "any" or an IP protocol number
    src: AclAddress = ANY
    dst: AclAddress = ANY
    src_ports: tuple[int, int] = (0, 65535)
    dst_ports: tuple[int, int] = (0, 65535)
    ethertype: str = "IPv4"


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    name: str  # fq-name
    id: int = 0
    ingress: tuple[AclEntry, ...] = ()  # towards the workload
    egress: tuple[AclEntry, ...] = ()  # from the workload


@dataclass(frozen=True, slots=True, order=True)
class FloatingIp:
    """A floating IP from one of a network's pools, bound to a VMI (``port`` = its uuid).
    ``fixed_ip`` = ``floating_ip_fixed_ip_address`` ("" = the port's own IP)."""

    ip: str
    port: str
    fixed_ip: str = ""


@dataclass(frozen=True, slots=True)
class Network:
    """A virtual network as the agent uses it: its primary routing instance (VRF name) and VNI."""

    vrf: str
    vni: int
    subnets: tuple[Subnet, ...] = ()
    uuid: str = ""
    acl: tuple[AclEntry, ...] | None = None  # the network policy ACL; None = no policy
    floating_ips: tuple[FloatingIp, ...] = ()  # from this network's pools, bound to VMIs


@dataclass(frozen=True, slots=True)
class Port:
    """A local workload port (VMI) bound to an OS interface."""

    uuid: str
    ifname: str
    mac: str
    ip: str
    vrf: str  # routing instance of its network
    vm: str = ""
    security_groups: tuple[str, ...] = ()  # fq-names of the groups attached to the VMI


@dataclass(frozen=True, slots=True)
class PathNextHop:
    address: str  # the VTEP (compute node) owning the destination
    vni: int


@dataclass(frozen=True, slots=True)
class RouteIn:
    """A route received for a VRF (the control node's best path(s), ECMP = several)."""

    prefix: str
    nexthops: tuple[PathNextHop, ...]
    security_groups: tuple[int, ...] = ()  # ids of the groups of the workload behind it


@dataclass(frozen=True, slots=True)
class MacIpRoute:
    """An EVPN MAC/IP (type 2) route received for a VRF: the host ``ip`` (IPv4) has the
    MAC ``mac`` and sits behind the VTEP of ``nexthop`` (VXLAN, its VNI). Learned from
    routers (an L2VNI switch's hosts) and from other vRouters."""

    ip: str
    mac: str
    nexthop: PathNextHop


@dataclass(frozen=True, slots=True)
class AgentView:
    host: Host
    networks: dict[str, Network] = field(default_factory=dict)  # by vrf name
    ports: dict[str, Port] = field(default_factory=dict)  # by uuid
    routes: dict[str, dict[str, RouteIn]] = field(default_factory=dict)  # vrf -> prefix -> route
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)  # by fq-name
    mac_ip_routes: dict[str, dict[str, MacIpRoute]] = field(default_factory=dict)  # vrf -> ip -> EVPN type 2
