"""libvirt XML for networks and domains, generated from the models; and read back.

Pure (xml.etree only). What is generated here is exactly what the adapter defines,
so the golden files under tests/unit/provision pin the contract with libvirt.
"""

from __future__ import annotations

import hashlib
import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .topology import Network

# Domains we define carry this element, so they are recognisable after any restart.
METADATA_NS = "urn:x-filament:virsh:1"
METADATA_TAG = "node"
ET.register_namespace("filament", METADATA_NS)


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})


def to_text(root: ET.Element) -> str:
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- networks


def network_xml(net: Network, full_name: str) -> str:
    """The <network> for one topology network, named (and bridged) `full_name`."""
    root = ET.Element("network")
    _el(root, "name").text = full_name
    if net.forward == "bridge":
        fwd = _el(root, "forward", mode="bridge")
        if net.nic:
            # macvtap bridge mode on the NIC: guests sit on the NIC's LAN and nothing on
            # the host (no bridge, no NIC re-plumbing) has to be created or restored.
            _el(fwd, "interface", dev=net.nic)
        else:
            _el(root, "bridge", name=full_name)  # an existing host bridge
        return to_text(root)
    if net.forward:
        _el(root, "forward", mode=net.forward)
    _el(root, "bridge", name=full_name, stp="on" if net.stp else "off")
    if net.mtu:
        _el(root, "mtu", size=str(net.mtu))
    if net.domain:
        _el(root, "domain", name=net.domain, localOnly="yes")
    if net.ip_address:
        ip = _el(root, "ip", address=net.ip_address, netmask=net.netmask or "255.255.255.0")
        if net.dhcp:
            dhcp = _el(ip, "dhcp")
            _el(dhcp, "range", start=net.dhcp.start, end=net.dhcp.end)
    if net.ipv6:
        ip6 = _el(root, "ip", family="ipv6", address=net.ipv6.address,
                  prefix=str(net.ipv6.prefix))
        if net.ipv6.dhcp:
            _el(_el(ip6, "dhcp"), "range", start=net.ipv6.dhcp.start, end=net.ipv6.dhcp.end)
    return to_text(root)


@dataclass(frozen=True)
class NetworkShape:
    """The parts of a network that decide whether an existing one is the one we want."""

    forward: str | None
    bridge: str | None
    nic: str | None
    ips: tuple[tuple[str, str, str | None, str | None], ...]  # (family, cidr, dhcp start, end)

    def describe(self) -> str:
        parts = [f"forward {self.forward or 'none'}", f"bridge {self.bridge or '-'}"]
        if self.nic:
            parts.append(f"nic {self.nic}")
        for _fam, cidr, start, end in self.ips:
            parts.append(cidr + (f" dhcp {start}-{end}" if start else ""))
        return ", ".join(parts)


def network_shape(xml: str) -> NetworkShape:
    """Reduce a network XML (ours or libvirt's live one) to its NetworkShape."""
    root = ET.fromstring(xml)
    fwd = root.find("forward")
    mode = None if fwd is None else fwd.get("mode", "nat")
    nic_el = None if fwd is None else fwd.find("interface")
    if nic_el is None and fwd is not None and fwd.get("dev") and mode == "bridge":
        nic = fwd.get("dev")
    else:
        nic = None if nic_el is None else nic_el.get("dev")
    br = root.find("bridge")
    ips = []
    for ip in root.findall("ip"):
        fam = ip.get("family", "ipv4")
        if ip.get("netmask"):
            cidr = str(ipaddress.ip_interface(f"{ip.get('address')}/{ip.get('netmask')}"))
        else:
            cidr = str(ipaddress.ip_interface(f"{ip.get('address')}/{ip.get('prefix', '24')}"))
        rng = ip.find("dhcp/range")
        ips.append((fam, cidr, None if rng is None else rng.get("start"),
                    None if rng is None else rng.get("end")))
    return NetworkShape(mode, None if br is None else br.get("name"), nic, tuple(sorted(ips)))


def dhcp_host_xml(mac: str, name: str, ip: str) -> str:
    return ET.tostring(ET.Element("host", {"mac": mac, "name": name, "ip": ip}),
                       encoding="unicode")


def dhcp_hosts(xml: str) -> dict[str, tuple[str, str]]:
    """Static DHCP hosts of a network: mac → (name, ip)."""
    root = ET.fromstring(xml)
    return {h.get("mac", "").lower(): (h.get("name", ""), h.get("ip", ""))
            for h in root.findall("ip/dhcp/host") if h.get("mac")}


# ---------------------------------------------------------------- domains


@dataclass(frozen=True)
class DiskSpec:
    path: str
    size: str | None  # None: as big as the backing image
    backing: str | None = None  # qcow2 overlay on this base image
    cache: str = "unsafe"
    bus: str = "virtio"
    preallocation: str = "metadata"


@dataclass(frozen=True)
class NicSpec:
    network: str  # full libvirt network (or host bridge) name
    bridged: bool = False
    model: str = "virtio"


@dataclass(frozen=True)
class DomainSpec:
    name: str
    node_type: str  # the node file key
    index: int
    memory_mib: int
    vcpus: int
    virt_type: str  # kvm | qemu
    cpumodel: str | None
    machine: str | None
    disks: tuple[DiskSpec, ...]
    nics: tuple[NicSpec, ...]
    autostart: bool = True


_BUS_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd", "usb": "sd"}


def domain_xml(spec: DomainSpec, workspace: str | None = None) -> str:
    """The <domain>; with `workspace`, it carries our ownership metadata and fingerprint."""
    root = ET.Element("domain", type=spec.virt_type)
    _el(root, "name").text = spec.name
    if workspace is not None:
        md = _el(root, "metadata")
        ET.SubElement(md, f"{{{METADATA_NS}}}{METADATA_TAG}", {
            "workspace": workspace, "type": spec.node_type, "index": str(spec.index),
            "fingerprint": domain_fingerprint(spec)})
    _el(root, "memory", unit="MiB").text = str(spec.memory_mib)
    _el(root, "vcpu").text = str(spec.vcpus)
    os_ = _el(root, "os")
    typ = _el(os_, "type", arch="x86_64")
    if spec.machine:
        typ.set("machine", spec.machine)
    typ.text = "hvm"
    _el(os_, "boot", dev="hd")
    feats = _el(root, "features")
    _el(feats, "acpi")
    _el(feats, "apic")
    # TCG cannot pass the host CPU through; it emulates its default model instead.
    if spec.cpumodel and spec.virt_type == "kvm":
        if spec.cpumodel in ("host-passthrough", "host-model"):
            _el(root, "cpu", mode=spec.cpumodel)
        else:
            cpu = _el(root, "cpu", mode="custom", match="exact")
            _el(cpu, "model", fallback="allow").text = spec.cpumodel
    _el(root, "on_poweroff").text = "destroy"
    _el(root, "on_reboot").text = "restart"
    _el(root, "on_crash").text = "destroy"
    dev = _el(root, "devices")
    counters: dict[str, int] = {}
    for d in spec.disks:
        pre = _BUS_PREFIX.get(d.bus, "vd")
        n = counters.get(pre, 0)
        counters[pre] = n + 1
        disk = _el(dev, "disk", type="file", device="disk")
        _el(disk, "driver", name="qemu", type="qcow2", cache=d.cache)
        _el(disk, "source", file=d.path)
        _el(disk, "target", dev=pre + chr(ord("a") + n), bus=d.bus)
    for nic in spec.nics:
        if nic.bridged:
            iface = _el(dev, "interface", type="bridge")
            _el(iface, "source", bridge=nic.network)
        else:
            iface = _el(dev, "interface", type="network")
            _el(iface, "source", network=nic.network)
        _el(iface, "model", type=nic.model)
    _el(dev, "serial", type="pty")
    _el(_el(dev, "console", type="pty"), "target", type="serial")
    _el(dev, "graphics", type="vnc", autoport="yes", listen="127.0.0.1")
    _el(_el(dev, "rng", model="virtio"), "backend", model="random").text = "/dev/urandom"
    return to_text(root)


def domain_fingerprint(spec: DomainSpec) -> str:
    """Changes exactly when the domain we would define changes (MACs are libvirt's)."""
    return hashlib.sha256(domain_xml(spec).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DomainFacts:
    """What the provisioner needs to know about a live domain."""

    name: str
    workspace: str | None
    node_type: str | None
    fingerprint: str | None
    nics: tuple[tuple[str, str, str], ...]  # (interface type, source network/bridge, mac)
    disks: tuple[str, ...]  # top-level source files


def domain_facts(xml: str) -> DomainFacts:
    """Parse a live domain XML: our metadata, NICs with MACs, disk files."""
    root = ET.fromstring(xml)
    meta = root.find(f"metadata/{{{METADATA_NS}}}{METADATA_TAG}")
    nics = []
    for it in root.findall("devices/interface"):
        src = it.find("source")
        mac = it.find("mac")
        source = "" if src is None else (src.get("network") or src.get("bridge") or "")
        nics.append((it.get("type", ""), source, "" if mac is None else mac.get("address", "")))
    disks = tuple(s.get("file") for s in root.findall("devices/disk/source") if s.get("file"))
    return DomainFacts(
        name=root.findtext("name", ""),
        workspace=None if meta is None else meta.get("workspace"),
        node_type=None if meta is None else meta.get("type"),
        fingerprint=None if meta is None else meta.get("fingerprint"),
        nics=tuple(nics), disks=disks)
