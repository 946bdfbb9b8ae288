"""The virsh provisioner's workflow: check, plan, then converge libvirt to the plan.

Everything that can be known wrong is checked before the first thing is created
(files, counts, references, image reachability, libvirt, conflicts, memory). What a
run creates is journaled; if the run fails half-way the journal is undone in
reverse, so nothing it made is left behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import images
from .hypervisor import Hypervisor, HypervisorError
from .inventory import NO_ADDRESS, HypervisorAccess, NodeHost, render
from .plan import (Observed, Plan, PlanError, Settings, check_memory, cleanup_targets,
                   image_urls, kill_targets, plan)
from .topology import load_topology, parse_node_counts, parse_overrides, prefixed
from .workspace import Workspace

POLL_INTERVAL = 0.5


class ProvisionError(Exception):
    """The provisioning run failed (after rolling back what it created)."""


@dataclass(frozen=True)
class ProvisionRequest:
    nodes: str
    network: str = "3_nets"
    extend: bool = False
    overcommit: bool = False
    prefix: str | None = None
    image_url: str | None = None
    image_checksum: str | None = None
    force_image_download: bool = False
    disk_pool: str = "/var/lib/libvirt/images"
    disk_bus: str = "virtio"
    virt_type: str = "kvm"
    lease_timeout: float = 300.0  # 0: do not wait for DHCP leases
    overrides: tuple[str, ...] = ()
    topology_dirs: tuple[str, ...] = ()
    dry_run: bool = False
    host: HypervisorAccess = field(default_factory=lambda: HypervisorAccess("localhost"))


@dataclass
class Result:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    inventory: Path | None = None


class Provisioner:
    def __init__(self, workspace: Workspace, connect: Callable[[], Hypervisor],
                 say: Callable[[str], None] = print,
                 progress: Callable[[str], images.Progress] | None = None,
                 now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.ws = workspace
        self.connect = connect
        self.say = say
        self.progress = progress
        self.now = now
        self.sleep = sleep

    # ------------------------------------------------------------ provision

    def provision(self, req: ProvisionRequest) -> Result:
        search = [Path(d) for d in req.topology_dirs] + [Path.cwd() / "topology"]
        search += self.ws.topology_dirs()
        topo = load_topology(parse_node_counts(req.nodes), req.network, search,
                             req.prefix, parse_overrides(list(req.overrides)))
        urls = image_urls(topo, req.image_url)
        checksum = images.parse_checksum(req.image_checksum)
        for url in urls:
            images.probe(url)
        settings = Settings(
            workspace=self.ws.id, disk_pool=req.disk_pool, prefix=req.prefix,
            virt_type=req.virt_type, extend=req.extend, image_url=req.image_url,
            images={u: images.base_path(u, req.disk_pool) for u in urls}, disk_bus=req.disk_bus)
        hv: Hypervisor | None = None
        try:
            hv = self.connect()
        except HypervisorError:
            if not req.dry_run:
                raise
            self.say("# libvirt is not reachable: planning against an empty hypervisor")
        try:
            observed = (hv.observe(frozenset(self.ws.state.networks)) if hv
                        else Observed(owned_networks=frozenset(self.ws.state.networks)))
            p = plan(topo, settings, observed)
            if hv and p.required_memory_mib:
                warning = check_memory(p.required_memory_mib, hv.free_memory_mib(),
                                       req.overcommit)
                if warning:
                    self.say(f"warning: {warning}")
            self._check_disk_files(p)
            if req.dry_run:
                self._print_plan(p)
                return Result()
            assert hv is not None
            return self._execute(hv, p, req, urls, checksum, topo_prefix=req.prefix)
        finally:
            if hv:
                hv.close()

    def _check_disk_files(self, p: Plan) -> None:
        for step in p.domains:
            if step.action == "keep":
                continue
            ours = set(self.ws.state.domains.get(step.spec.name, {}).get("disks", []))
            for disk in step.spec.disks:
                if os.path.exists(disk.path) and disk.path not in ours:
                    raise PlanError(f"disk file {disk.path} already exists and was not made by "
                                    "this workspace; remove it or choose another --disk-pool")

    def _print_plan(self, p: Plan) -> None:
        for n in p.networks:
            self.say(f"<!-- network {n.name}: {n.action} -->")
            if n.action != "keep":
                self.say(n.xml.rstrip())
        for d in p.domains:
            self.say(f"<!-- domain {d.spec.name}: {d.action} -->")
            if d.action != "keep":
                for disk in d.spec.disks:
                    how = (f"overlay on {disk.backing}" if disk.backing else "empty qcow2")
                    self.say(f"<!-- disk {disk.path}: {how}, size {disk.size or 'of image'} -->")
                self.say(d.xml.rstrip())
        for name in p.remove_domains:
            self.say(f"<!-- domain {name}: remove -->")
        for name in p.remove_networks:
            self.say(f"<!-- network {name}: remove -->")

    def _execute(self, hv: Hypervisor, p: Plan, req: ProvisionRequest, urls: list[str],
                 checksum, topo_prefix: str | None) -> Result:
        res = Result()
        undo: list[tuple[str, Callable[[], None]]] = []
        try:
            for url in urls:
                dest = images.base_path(url, req.disk_pool)
                bar = self.progress(url) if self.progress else None
                if images.fetch(url, dest, checksum, req.force_image_download, bar):
                    self.say(f"image {url} -> {dest}")
            for n in p.networks:
                if n.action == "create":
                    self.ws.record_network(n.name)
                    undo.append((f"network {n.name}", self._undo_network(hv, n.name)))
                    hv.define_network(n.xml, n.autostart)
                    res.created.append(n.name)
                else:
                    hv.ensure_network_active(n.name)
                    res.kept.append(n.name)
            for d in p.domains:
                name = d.spec.name
                info = {"type": d.node.key, "groups": list(d.node.groups),
                        "user": d.node.ssh_user, "connection": d.node.ansible_connection}
                if d.action == "keep":
                    self.ws.record_domain(name, **info)
                    hv.start_domain(name)
                    res.kept.append(name)
                    continue
                if d.action == "replace":
                    self._remove_domain(hv, name)
                disks = [disk.path for disk in d.spec.disks]
                self.ws.record_domain(name, disks=disks, address=NO_ADDRESS, **info)
                undo.append((f"domain {name}", self._undo_domain(hv, name, disks)))
                for disk in d.spec.disks:
                    images.create_disk(disk)
                hv.define_domain(d.xml)
                hv.start_domain(name)
                res.created.append(name)
            res.addresses = self._addresses(hv, p, req, topo_prefix)
            for name, ip in res.addresses.items():
                self.ws.record_domain(name, address=ip)
        except BaseException as exc:
            for what, fn in reversed(undo):
                try:
                    fn()
                except Exception as undo_exc:  # report, keep undoing the rest
                    self.say(f"warning: could not remove {what} while rolling back: {undo_exc}")
            if undo:
                self.say(f"rolled back: {', '.join(w for w, _ in reversed(undo))}")
            if isinstance(exc, (HypervisorError, images.ImageError, ProvisionError)):
                raise ProvisionError(f"{exc} (nothing this run created was kept)") from None
            raise
        # Converging: what this workspace had that the topology no longer asks for.
        for name in p.remove_domains:
            self._remove_domain(hv, name)
            res.removed.append(name)
        for name in p.remove_networks:
            hv.remove_network(name)
            self.ws.forget_network(name)
            res.removed.append(name)
        res.inventory = self.write_inventory(req.host)
        return res

    def _undo_network(self, hv: Hypervisor, name: str) -> Callable[[], None]:
        def undo() -> None:
            hv.remove_network(name)
            self.ws.forget_network(name)
        return undo

    def _undo_domain(self, hv: Hypervisor, name: str, disks: list[str]) -> Callable[[], None]:
        def undo() -> None:
            hv.remove_domain(name)
            for path in disks:
                images.remove_file(path)
            self.ws.forget_domain(name)
        return undo

    def _addresses(self, hv: Hypervisor, p: Plan, req: ProvisionRequest,
                   prefix: str | None) -> dict[str, str]:
        """Wait for each OS node's DHCP lease on its inventory network and pin it."""
        pending: dict[str, tuple[str, str]] = {}  # domain → (network, mac)
        out: dict[str, str] = {}
        for d in p.domains:
            net = d.node.inventory_network
            if not d.node.deploy_os or not net:
                out[d.spec.name] = NO_ADDRESS
                continue
            full = prefixed(prefix, net)
            mac = next((m for t, src, m in hv.domain(d.spec.name).nics
                        if t == "network" and src == full), None)
            if not mac:
                raise ProvisionError(f"domain {d.spec.name} has no interface on {full}")
            pinned = hv.static_hosts(full).get(mac.lower())
            if pinned:
                out[d.spec.name] = pinned[1]
            else:
                pending[d.spec.name] = (full, mac)
        if req.lease_timeout <= 0:
            out.update({name: NO_ADDRESS for name in pending})
            return out
        if pending:
            self.say(f"waiting up to {req.lease_timeout:g}s for DHCP leases: "
                     f"{', '.join(sorted(pending))}")
        deadline = self.now() + req.lease_timeout
        while pending:
            for name, (net, mac) in list(pending.items()):
                ip = hv.lease(net, mac)
                if ip:
                    hv.pin(net, mac, name, ip)
                    out[name] = ip
                    del pending[name]
                    self.say(f"{name}: {ip} on {net} (pinned)")
            if not pending:
                break
            if self.now() >= deadline:
                raise ProvisionError(
                    f"no DHCP lease within {req.lease_timeout:g}s for "
                    f"{', '.join(f'{n} ({net} {mac})' for n, (net, mac) in sorted(pending.items()))}")
            self.sleep(POLL_INTERVAL)
        return out

    def write_inventory(self, host: HypervisorAccess) -> Path:
        nodes = [NodeHost(name, info.get("address") or NO_ADDRESS, info.get("user", "root"),
                          host.key, info.get("connection", "ssh"), tuple(info.get("groups", ())))
                 for name, info in sorted(self.ws.state.domains.items(), key=_node_order)]
        return self.ws.write_inventory(render(host, nodes))

    # ------------------------------------------------------------ removal

    def _remove_domain(self, hv: Hypervisor, name: str) -> None:
        """Destroy and undefine a domain, unpin its leases, delete its disk files."""
        try:
            facts = hv.domain(name)
        except HypervisorError:
            facts = None
        disks = set(self.ws.state.domains.get(name, {}).get("disks", []))
        if facts:
            disks |= set(facts.disks)
            for typ, net, mac in facts.nics:
                if typ == "network" and mac:
                    try:
                        hv.unpin(net, mac)
                    except HypervisorError:
                        pass  # the network is gone already
        hv.remove_domain(name)
        for path in sorted(disks):
            images.remove_file(path)
        self.ws.forget_domain(name)

    def kill(self, host: HypervisorAccess) -> Result:
        """Remove this workspace's domains and the networks only they used."""
        hv = self.connect()
        try:
            observed = hv.observe(frozenset(self.ws.state.networks))
            doms, nets = kill_targets(observed, self.ws.id, frozenset(self.ws.state.domains))
            return self._remove_all(hv, doms, nets, host)
        finally:
            hv.close()

    def cleanup(self, host: HypervisorAccess) -> Result:
        """Remove every domain and every network except `default`."""
        hv = self.connect()
        try:
            doms, nets = cleanup_targets(hv.observe())
            return self._remove_all(hv, doms, nets, host)
        finally:
            hv.close()

    def _remove_all(self, hv: Hypervisor, doms: list[str], nets: list[str],
                    host: HypervisorAccess) -> Result:
        res = Result()
        for name in doms:
            self._remove_domain(hv, name)
            res.removed.append(name)
        for name in nets:
            hv.remove_network(name)
            res.removed.append(name)
        # Records of things that no longer exist are dropped as well.
        self.ws.state.domains.clear()
        self.ws.state.networks.clear()
        self.ws.save()
        res.inventory = self.write_inventory(host)
        return res


def _node_order(item: tuple[str, dict]) -> tuple:
    name = item[0]
    base, _, idx = name.rpartition("-")
    return (base, int(idx)) if idx.isdigit() else (name, -1)
