"""The plan: what to define, keep, replace and remove to make libvirt match a topology.

Pure: a function of the topology, the settings and what was observed on the
hypervisor. Conflicts (a name taken by something that is not ours, a network of the
same name shaped differently) are found here, before anything is created.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Mapping

from .libvirt_xml import (DiskSpec, DomainFacts, DomainSpec, NicSpec, domain_fingerprint,
                          domain_xml, network_shape, network_xml)
from .topology import NodeType, Topology, TopologyError, prefixed

PROTECTED_NETWORKS = frozenset({"default"})


class PlanError(TopologyError):
    """The hypervisor holds something that stands in the way of the topology."""


@dataclass(frozen=True)
class Settings:
    workspace: str  # identity written into every domain we define
    disk_pool: str
    prefix: str | None = None
    virt_type: str = "kvm"
    extend: bool = False
    image_url: str | None = None
    images: Mapping[str, str] = field(default_factory=dict)  # url → local base image path
    disk_bus: str = "virtio"


@dataclass(frozen=True)
class Observed:
    """The hypervisor as seen before planning."""

    domains: Mapping[str, DomainFacts] = field(default_factory=dict)
    networks: Mapping[str, str] = field(default_factory=dict)  # name → live XML
    owned_networks: frozenset[str] = frozenset()  # created by this workspace


@dataclass(frozen=True)
class NetworkStep:
    name: str
    xml: str
    action: str  # create | keep
    autostart: bool = True


@dataclass(frozen=True)
class DomainStep:
    spec: DomainSpec
    node: NodeType
    xml: str
    action: str  # create | keep | replace


@dataclass(frozen=True)
class Plan:
    networks: tuple[NetworkStep, ...]
    domains: tuple[DomainStep, ...]
    remove_domains: tuple[str, ...]
    remove_networks: tuple[str, ...]

    @property
    def required_memory_mib(self) -> int:
        """Memory the domains this plan starts anew will take."""
        return sum(d.spec.memory_mib for d in self.domains if d.action != "keep")

    @property
    def changes(self) -> bool:
        return bool(self.remove_domains or self.remove_networks
                    or any(n.action != "keep" for n in self.networks)
                    or any(d.action != "keep" for d in self.domains))


def image_url_for(node: NodeType, disk_index: int, disk_url: str | None,
                  default_url: str | None) -> str | None:
    """Where a disk's content comes from: its own import_url, else (disk1 of an OS
    node) the node's import_url or --image-url; None means an empty disk."""
    if disk_url:
        return disk_url
    if disk_index == 0 and node.deploy_os:
        return node.import_url or default_url
    return None


def image_urls(topology: Topology, default_url: str | None) -> list[str]:
    """Every base image the topology needs, in order; fails for an OS node without one."""
    urls: list[str] = []
    for node, count in topology.nodes:
        if count == 0:
            continue
        if node.deploy_os and not node.disks:
            raise PlanError(f"node {node.name!r} deploys an OS but has no disks")
        for i, disk in enumerate(node.disks):
            url = image_url_for(node, i, disk.import_url, default_url)
            if i == 0 and node.deploy_os and not url:
                raise PlanError(
                    f"node {node.name!r} deploys an OS (deploy_os: true) but no image was "
                    "given: use --image-url or import_url in its node file")
            if url and url not in urls:
                urls.append(url)
    return urls


def _index_of(name: str, base: str) -> int | None:
    m = re.fullmatch(re.escape(base) + r"-(\d+)", name)
    return int(m.group(1)) if m else None


def domain_spec(node: NodeType, index: int, settings: Settings) -> DomainSpec:
    name = prefixed(settings.prefix, f"{node.name}-{index}")
    disks = []
    for i, disk in enumerate(node.disks):
        pool = node.disks[0].path or settings.disk_pool
        url = image_url_for(node, i, disk.import_url, settings.image_url)
        base = settings.images.get(url) if url else None
        if url and base is None:
            raise PlanError(f"image {url} was not prepared")
        disks.append(DiskSpec(
            path=posixpath.join(pool, f"{name}-{disk.name}.qcow2"),
            # a disk copied from import_url keeps the image's own size, as in infrared
            size=None if disk.import_url else disk.size,
            backing=base,
            cache=disk.cache, bus=disk.bus or settings.disk_bus,
            preallocation=disk.preallocation))
    nics = tuple(NicSpec(it.network if it.bridged else prefixed(settings.prefix, it.network),
                         it.bridged, it.model or "virtio") for it in node.interfaces)
    return DomainSpec(name=name, node_type=node.key, index=index, memory_mib=node.memory_mib,
                      vcpus=node.cpu, virt_type=settings.virt_type, cpumodel=node.cpumodel,
                      machine=node.machine_type, disks=tuple(disks), nics=nics)


def plan(topology: Topology, settings: Settings, observed: Observed) -> Plan:
    """Compute the steps; raises PlanError on a conflict with what exists."""
    net_steps = []
    for net in topology.layout.networks:
        full = prefixed(settings.prefix, net.name)
        xml = network_xml(net, full)
        live = observed.networks.get(full)
        if live is None:
            net_steps.append(NetworkStep(full, xml, "create", net.autostart))
        elif network_shape(live) == network_shape(xml):
            net_steps.append(NetworkStep(full, xml, "keep", net.autostart))
        else:
            raise PlanError(
                f"libvirt network {full!r} exists with a different definition "
                f"(have: {network_shape(live).describe()}; want: "
                f"{network_shape(xml).describe()}); remove it with "
                "--kill/--cleanup or choose another --prefix")

    dom_steps: list[DomainStep] = []
    for node, count in topology.nodes:
        base = prefixed(settings.prefix, node.name)
        start = 0
        if settings.extend:
            taken = [i for n in observed.domains
                     if (i := _index_of(n, base)) is not None]
            start = max(taken) + 1 if taken else 0
        for index in range(start, start + count):
            spec = domain_spec(node, index, settings)
            facts = observed.domains.get(spec.name)
            xml = domain_xml(spec, settings.workspace)
            if facts is None:
                action = "create"
            elif facts.workspace != settings.workspace:
                owner = (f"workspace {facts.workspace}" if facts.workspace
                         else "nothing Filament created")
                raise PlanError(f"libvirt domain {spec.name!r} already exists and belongs to "
                                f"{owner}; remove it or choose another --prefix")
            elif facts.fingerprint == domain_fingerprint(spec):
                action = "keep"
            else:
                action = "replace"
            dom_steps.append(DomainStep(spec, node, xml, action))

    wanted = {d.spec.name for d in dom_steps}
    remove_domains: tuple[str, ...] = ()
    remove_networks: tuple[str, ...] = ()
    if not settings.extend:
        remove_domains = tuple(sorted(
            n for n, f in observed.domains.items()
            if f.workspace == settings.workspace and n not in wanted))
        wanted_nets = {s.name for s in net_steps}
        still_used = {src for n, f in observed.domains.items() if n not in remove_domains
                      for _t, src, _m in f.nics}
        still_used |= {nic.network for d in dom_steps for nic in d.spec.nics}
        remove_networks = tuple(sorted(
            n for n in observed.owned_networks
            if n in observed.networks and n not in wanted_nets
            and n not in still_used and n not in PROTECTED_NETWORKS))
    return Plan(tuple(net_steps), tuple(dom_steps), remove_domains, remove_networks)


def check_memory(required_mib: int, free_mib: int, overcommit: bool) -> str | None:
    """Fail when the new domains need more than the hypervisor's free memory.

    The rule (stricter than infrared's 20% allowance): required > free is an error
    unless overcommit is allowed. Returns a warning text when overcommitting.
    """
    if required_mib <= free_mib:
        return None
    msg = (f"not enough memory on the hypervisor: free memory is {free_mib} MiB, "
           f"the new domains need {required_mib} MiB")
    if overcommit:
        return msg + " (overcommitting, as --host-memory-overcommit allows)"
    raise PlanError(msg + "; use --host-memory-overcommit to overcommit memory")


def kill_targets(observed: Observed, workspace: str,
                 recorded_domains: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """--kill: this workspace's domains, and the networks they (or it) use that no other
    domain still needs; never `default`."""
    doms = sorted(n for n, f in observed.domains.items()
                  if f.workspace == workspace or (n in recorded_domains and f.workspace is None))
    nets = set(observed.owned_networks)
    for n in doms:
        nets |= {src for t, src, _m in observed.domains[n].nics if t == "network"}
    others = {src for n, f in observed.domains.items() if n not in doms for _t, src, _m in f.nics}
    nets = {n for n in nets if n in observed.networks and n not in others
            and n not in PROTECTED_NETWORKS}
    return doms, sorted(nets)


def cleanup_targets(observed: Observed) -> tuple[list[str], list[str]]:
    """--cleanup: every domain and every network except `default`."""
    return (sorted(observed.domains),
            sorted(n for n in observed.networks if n not in PROTECTED_NETWORKS))
