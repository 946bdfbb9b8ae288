"""Topology files: node types and network layouts, parsed into frozen models.

Pure: reads YAML text handed to it (plus a file lookup that only stats paths); no
libvirt, no clocks. Every problem is a ``TopologyError`` with a message meant for
the person who wrote the file or the command line.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

DEFAULTS_DIR = Path(__file__).parent / "defaults" / "topology"
SUFFIXES = (".yml", ".yaml")
# Linux interface names are at most 15 bytes; the bridge is named after the network.
MAX_BRIDGE_NAME = 15
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SIZE_RE = re.compile(r"^\d+[KMGT]?$")


class TopologyError(ValueError):
    """A topology file or option that cannot be used as written."""


@dataclass(frozen=True)
class Disk:
    name: str  # disk1, disk2, ...
    size: str  # qemu-img size, e.g. 40G
    cache: str = "unsafe"
    bus: str | None = None
    preallocation: str = "metadata"
    import_url: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Interface:
    network: str
    bridged: bool = False  # attach to a plain host bridge called `network`
    model: str | None = None


@dataclass(frozen=True)
class NodeType:
    key: str  # file basename: what `name:count` and overrides refer to
    name: str  # base of the VM names: <name>-<index>
    cpu: int
    memory_mib: int
    cpumodel: str = "host-passthrough"
    deploy_os: bool = True
    disks: tuple[Disk, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    external_network: str | None = None
    external_bridged: bool = False
    provision_network: str | None = None
    groups: tuple[str, ...] = ()
    ssh_user: str = "root"
    ansible_connection: str = "ssh"
    machine_type: str | None = None
    import_url: str | None = None

    @property
    def inventory_network(self) -> str | None:
        """The network whose DHCP lease gives the node its inventory address."""
        if self.external_bridged:
            return None
        return self.provision_network or self.external_network


@dataclass(frozen=True)
class DhcpRange:
    start: str
    end: str


@dataclass(frozen=True)
class Ipv6:
    address: str
    prefix: int
    dhcp: DhcpRange | None = None


@dataclass(frozen=True)
class Network:
    key: str  # net1, net2, ...: a handle only
    name: str  # libvirt network name and bridge name
    forward: str | None = None  # None (isolated), "nat", "route" or "bridge"
    ip_address: str | None = None
    netmask: str | None = None
    dhcp: DhcpRange | None = None
    nic: str | None = None  # forward: bridge only
    stp: bool = False
    autostart: bool = True
    mtu: int | None = None
    domain: str | None = None
    ipv6: Ipv6 | None = None


@dataclass(frozen=True)
class NetworkLayout:
    networks: tuple[Network, ...]
    node_wiring: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def by_name(self, name: str) -> Network | None:
        return next((n for n in self.networks if n.name == name), None)


@dataclass(frozen=True)
class Topology:
    """What one command asks for: the network layout and node types with counts."""

    layout: NetworkLayout
    nodes: tuple[tuple[NodeType, int], ...]


# ---------------------------------------------------------------- command line


def parse_node_counts(spec: str) -> list[tuple[str, int]]:
    """Parse ``name:count,name:count`` strictly (integer counts, no duplicates)."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    if not spec or not spec.strip():
        raise TopologyError("--topology-nodes is empty; expected NAME:COUNT[,NAME:COUNT...]")
    for item in spec.split(","):
        item = item.strip()
        name, sep, count = item.rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise TopologyError(f"--topology-nodes item {item!r} is not NAME:COUNT")
        try:
            n = int(count)
        except ValueError:
            raise TopologyError(
                f"--topology-nodes item {item!r}: count {count!r} is not a number") from None
        if n < 0:
            raise TopologyError(f"--topology-nodes item {item!r}: count must be >= 0")
        if name in seen:
            raise TopologyError(f"--topology-nodes names {name!r} twice")
        seen.add(name)
        out.append((name, n))
    return out


def find_file(kind: str, name: str, search_dirs: Iterable[Path]) -> Path:
    """Resolve a topology NAME: as a path, then in each search dir, then the defaults.

    ``kind`` is ``nodes`` or ``network``; ``.yml``/``.yaml`` are tried when the bare
    name does not exist.
    """
    candidates: list[Path] = []

    def variants(p: Path) -> list[Path]:
        return [p] + [p.with_name(p.name + s) for s in SUFFIXES]

    candidates += variants(Path(name))
    for d in list(search_dirs) + [DEFAULTS_DIR / kind]:
        candidates += variants(Path(d) / name)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    tried = ", ".join(str(c) for c in candidates[::3])
    raise TopologyError(f"{kind} file {name!r} not found (tried {tried}, with .yml/.yaml)")


def shipped(kind: str) -> list[str]:
    """Names of the shipped default files of one kind."""
    return sorted(p.stem for p in (DEFAULTS_DIR / kind).iterdir() if p.suffix in SUFFIXES)


# ---------------------------------------------------------------- YAML -> models


def load_yaml(text: str, source: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TopologyError(f"{source}: expected a mapping at the top level")
    return data


def merge(base: Mapping, over: Mapping) -> dict:
    """Recursive dict merge; `over` wins, nested dicts are merged, lists replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("no", "false", "off", "0", ""):
        return False
    raise TopologyError(f"{what}: {value!r} is not a boolean")


def _int(value: Any, what: str) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise TopologyError(f"{what}: {value!r} is not a number") from None
    if n <= 0:
        raise TopologyError(f"{what}: must be positive, got {n}")
    return n


def _ip(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise TopologyError(f"{what}: {value!r} is not an IP address") from None


def parse_layout(text: str, source: str = "network file") -> NetworkLayout:
    """Parse a network file (``networks:`` and ``nodes:`` sections)."""
    data = load_yaml(text, source)
    nets_raw = data.get("networks")
    if not isinstance(nets_raw, Mapping) or not nets_raw:
        raise TopologyError(f"{source}: needs a non-empty 'networks' mapping")
    networks = [_parse_network(k, v or {}, f"{source}: networks.{k}")
                for k, v in nets_raw.items()]
    names = [n.name for n in networks]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise TopologyError(f"{source}: network name(s) defined twice: {', '.join(sorted(dup))}")
    wiring = data.get("nodes") or {}
    if not isinstance(wiring, Mapping):
        raise TopologyError(f"{source}: 'nodes' must be a mapping of node name to wiring")
    return NetworkLayout(tuple(networks), {str(k): dict(v or {}) for k, v in wiring.items()})


def _parse_network(key: str, raw: Mapping, where: str) -> Network:
    if not isinstance(raw, Mapping):
        raise TopologyError(f"{where}: expected a mapping")
    name = raw.get("name")
    if not name or not _NAME_RE.match(str(name)):
        raise TopologyError(f"{where}: 'name' missing or not a valid network name")
    forward = raw.get("forward")
    if isinstance(forward, Mapping):  # the older `forward: {type: nat}` form
        forward = forward.get("type")
    if forward not in (None, "nat", "route", "bridge"):
        raise TopologyError(f"{where}: forward {forward!r} is not nat, route or bridge")
    ip = _ip(raw["ip_address"], f"{where}.ip_address") if raw.get("ip_address") else None
    netmask = str(raw["netmask"]) if raw.get("netmask") else None
    if ip and not netmask:
        raise TopologyError(f"{where}: ip_address needs a netmask")
    dhcp = None
    if raw.get("dhcp"):
        rng = (raw["dhcp"] or {}).get("range") or {}
        if not rng.get("start") or not rng.get("end"):
            raise TopologyError(f"{where}.dhcp: needs range.start and range.end")
        dhcp = DhcpRange(_ip(rng["start"], f"{where}.dhcp.range.start"),
                         _ip(rng["end"], f"{where}.dhcp.range.end"))
        if forward == "bridge":
            raise TopologyError(f"{where}: a forward: bridge network has no DHCP of its own")
        if not ip:
            raise TopologyError(f"{where}: dhcp needs ip_address/netmask")
        try:
            subnet = ipaddress.ip_network(f"{ip}/{netmask}", strict=False)
        except ValueError:
            raise TopologyError(f"{where}: bad netmask {netmask!r}") from None
        for end in (dhcp.start, dhcp.end):
            if ipaddress.ip_address(end) not in subnet:
                raise TopologyError(f"{where}.dhcp: {end} is outside {subnet}")
    if forward in ("nat", "route") and not ip:
        raise TopologyError(f"{where}: forward {forward} needs ip_address/netmask")
    ipv6 = None
    if raw.get("ipv6"):
        r6 = raw["ipv6"]
        d6 = (r6.get("dhcp") or {}).get("range") if isinstance(r6.get("dhcp"), Mapping) else None
        ipv6 = Ipv6(_ip(r6.get("ip_address"), f"{where}.ipv6.ip_address"),
                    _int(r6.get("prefix", 64), f"{where}.ipv6.prefix"),
                    DhcpRange(_ip(d6["start"], f"{where}.ipv6.dhcp"),
                              _ip(d6["end"], f"{where}.ipv6.dhcp")) if d6 else None)
    nic = raw.get("nic") or None
    if nic and forward != "bridge":
        raise TopologyError(f"{where}: 'nic' only applies to forward: bridge networks")
    return Network(
        key=str(key), name=str(name), forward=forward, ip_address=ip, netmask=netmask,
        dhcp=dhcp, nic=str(nic) if nic else None, stp=_bool(raw.get("stp"), f"{where}.stp"),
        autostart=_bool(raw.get("autostart", True), f"{where}.autostart"),
        mtu=_int(raw["mtu"], f"{where}.mtu") if raw.get("mtu") else None,
        domain=str(raw["domain"]) if raw.get("domain") else None, ipv6=ipv6)


def parse_node(text: str, key: str, layout: NetworkLayout,
               overrides: Mapping | None = None, source: str = "node file") -> NodeType:
    """Parse one node file, wired from the network file when it has no interfaces."""
    data = load_yaml(text, source)
    if overrides:
        data = merge(data, overrides)
    name = data.get("name")
    if not name or not _NAME_RE.match(str(name)):
        raise TopologyError(f"{source}: 'name' missing or not a valid VM base name")
    name = str(name)
    if not data.get("interfaces"):
        wiring = layout.node_wiring.get(name, layout.node_wiring.get("default"))
        if wiring is None:
            raise TopologyError(
                f"{source}: node {name!r} has no interfaces and the network file has no "
                f"'nodes.{name}' or 'nodes.default' entry")
        data = merge(data, wiring)
    ifaces_raw = data.get("interfaces") or []
    if isinstance(ifaces_raw, Mapping):  # the pre-2017 `nic1: {network: ...}` form
        ifaces_raw = list(ifaces_raw.values())
    interfaces = []
    for i, it in enumerate(ifaces_raw):
        if not isinstance(it, Mapping) or not it.get("network"):
            raise TopologyError(f"{source}: interfaces[{i}] needs a 'network'")
        interfaces.append(Interface(str(it["network"]),
                                    _bool(it.get("bridged"), f"{source}: interfaces[{i}].bridged"),
                                    str(it["model"]) if it.get("model") else None))
    disks_raw = data.get("disks") or {}
    if not isinstance(disks_raw, Mapping):
        raise TopologyError(f"{source}: 'disks' must be a mapping diskN -> spec")
    disks = []
    for dname, spec in disks_raw.items():
        spec = spec or {}
        size = str(spec.get("size", "")).strip()
        if not _SIZE_RE.match(size):
            raise TopologyError(f"{source}: disks.{dname}.size {spec.get('size')!r} "
                                "is not a size like 40G")
        disks.append(Disk(str(dname), size, str(spec.get("cache") or "unsafe"),
                          str(spec["bus"]) if spec.get("bus") else None,
                          str(spec.get("preallocation") or "metadata"),
                          spec.get("import_url") or None, spec.get("path") or None))
    ext = data.get("external_network") or {}
    if isinstance(ext, str):
        ext = {"network": ext}
    image = data.get("image") or {}
    node = NodeType(
        key=key, name=name, cpu=_int(data.get("cpu"), f"{source}: cpu"),
        memory_mib=_int(data.get("memory"), f"{source}: memory"),
        cpumodel=str(data.get("cpumodel") or "host-passthrough"),
        deploy_os=_bool(data.get("deploy_os", True), f"{source}: deploy_os"),
        disks=tuple(disks), interfaces=tuple(interfaces),
        external_network=ext.get("network") or None,
        external_bridged=_bool(ext.get("bridged"), f"{source}: external_network.bridged"),
        provision_network=data.get("provision_network") or None,
        groups=tuple(str(g) for g in (data.get("groups") or [])),
        ssh_user=str(image.get("ssh_user") or "root"),
        ansible_connection=str(image.get("ansible_connection") or "ssh"),
        machine_type=str(data["machine_type"]) if data.get("machine_type") else None,
        import_url=data.get("import_url") or None)
    _check_wiring(node, layout, source)
    return node


def _check_wiring(node: NodeType, layout: NetworkLayout, source: str) -> None:
    for it in node.interfaces:
        if not it.bridged and layout.by_name(it.network) is None:
            raise TopologyError(
                f"{source}: node {node.name!r} uses network {it.network!r}, which the "
                f"network file does not define (it defines: "
                f"{', '.join(n.name for n in layout.networks)})")
    attached = {it.network for it in node.interfaces}
    for what in ("external_network", "provision_network"):
        net = getattr(node, what)
        if net and net not in attached:
            raise TopologyError(
                f"{source}: {what} {net!r} of node {node.name!r} is not one of its "
                f"interfaces ({', '.join(sorted(attached)) or 'none'})")


def check_prefix(prefix: str | None, layout: NetworkLayout) -> None:
    """Network (= bridge) names with the prefix must fit a Linux interface name."""
    if prefix is not None and not _NAME_RE.match(prefix):
        raise TopologyError(f"--prefix {prefix!r} is not a valid name prefix")
    for net in layout.networks:
        full = prefixed(prefix, net.name)
        if len(full) > MAX_BRIDGE_NAME and not (net.forward == "bridge" and net.nic):
            raise TopologyError(
                f"network {full!r} is {len(full)} characters; its bridge name must be at "
                f"most {MAX_BRIDGE_NAME} (use a shorter --prefix or network name)")


def prefixed(prefix: str | None, name: str) -> str:
    return f"{prefix}-{name}" if prefix else name


def load_topology(node_counts: list[tuple[str, int]], network: str,
                  search_dirs: list[Path], prefix: str | None = None,
                  overrides: Mapping[str, Mapping] | None = None) -> Topology:
    """Find, read and check every file one command needs; raises TopologyError."""
    net_path = find_file("network", network, [d / "network" for d in search_dirs])
    layout = parse_layout(net_path.read_text(), str(net_path))
    if overrides and overrides.get("networks"):
        layout = _override_networks(layout, net_path, overrides["networks"])
    check_prefix(prefix, layout)
    nodes: list[tuple[NodeType, int]] = []
    for name, count in node_counts:
        path = find_file("nodes", name, [d / "nodes" for d in search_dirs])
        key = path.stem
        node = parse_node(path.read_text(), key, layout,
                          (overrides or {}).get(key), str(path))
        nodes.append((node, count))
    vm_names = [n.name for n, _ in nodes]
    dup = {n for n in vm_names if vm_names.count(n) > 1}
    if dup:
        raise TopologyError(f"two node files both name their VMs {sorted(dup)[0]!r}")
    return Topology(layout, tuple(nodes))


def _override_networks(layout: NetworkLayout, path: Path, over: Mapping) -> NetworkLayout:
    data = load_yaml(path.read_text(), str(path))
    data["networks"] = merge(data["networks"], over)
    return parse_layout(yaml.safe_dump(data), str(path))


def parse_overrides(items: list[str]) -> dict:
    """``-e override.controller.memory=4096`` style assignments → nested dict."""
    out: dict = {}
    for item in items:
        path, sep, value = item.partition("=")
        keys = path.split(".")
        if not sep or len(keys) < 3 or keys[0] != "override" or not all(keys):
            raise TopologyError(
                f"-e {item!r}: expected override.<node-file|networks>.<key>=VALUE")
        cur = out
        for k in keys[1:-1]:
            cur = cur.setdefault(k, {})
        cur[keys[-1]] = yaml.safe_load(value) if value else None
    return out
