"""`filament virsh`: build a virtual lab (networks + VMs) on one libvirt hypervisor."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse

DEFAULT_WORKSPACE = os.path.join("~", ".filament", "virsh", "default")


def _bool(text: str) -> bool:
    t = str(text).lower()
    if t in ("yes", "true", "on", "1"):
        return True
    if t in ("no", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (yes/no/true/false)")


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "virsh", help="provision a virtual lab on a libvirt hypervisor",
        description="Define libvirt networks and VMs from topology files (infrared's virsh "
                    "provisioner). Re-running the same command converges; --kill removes "
                    "this workspace's lab, --cleanup everything but the 'default' network.")
    p.add_argument("--topology-nodes", metavar="NAME:COUNT,...",
                   help="node types and counts, e.g. undercloud:1,controller:3,compute:2")
    p.add_argument("--topology-network", default="3_nets", metavar="NAME",
                   help="network file (default: 3_nets)")
    p.add_argument("--topology-extend", nargs="?", const=True, default=False, type=_bool,
                   metavar="BOOL", help="add the nodes after the highest existing index")
    p.add_argument("--topology-dir", action="append", default=[], metavar="DIR",
                   help="extra directory with nodes/ and network/ files (searched first)")
    p.add_argument("-e", "--extra-vars", action="append", default=[], metavar="KEY=VALUE",
                   help="override.<node-file>.<key>=VALUE or override.networks.<netN>.<key>=...")
    p.add_argument("--prefix", help="prefix for VM, network and bridge names")
    p.add_argument("--host-memory-overcommit", nargs="?", const=True, default=False,
                   type=_bool, metavar="BOOL", help="skip the free-memory check")
    p.add_argument("--image-url", help="base image for OS nodes (http, https or file URL)")
    p.add_argument("--image-checksum", metavar="ALGO:HEX", help="e.g. sha256:…")
    p.add_argument("--force-image-download", nargs="?", const=True, default=False,
                   type=_bool, metavar="BOOL")
    p.add_argument("--disk-pool", default="/var/lib/libvirt/images", metavar="DIR",
                   help="where base images and VM disks go")
    p.add_argument("--disk-bus", default="virtio", choices=["virtio", "scsi", "sata", "ide"])
    p.add_argument("--virt-type", default="kvm", choices=["kvm", "qemu"],
                   help="kvm, or qemu for TCG emulation where KVM is not usable")
    p.add_argument("--lease-timeout", type=_seconds, default=300.0, metavar="SECONDS",
                   help="how long to wait for OS nodes' DHCP leases (0: do not wait)")
    p.add_argument("--libvirt-uri", default=os.environ.get("LIBVIRT_DEFAULT_URI",
                                                           "qemu:///system"))
    p.add_argument("--host-address", help="hypervisor address for the inventory "
                   "(default: the URI's host, else localhost)")
    p.add_argument("--host-user", default="root")
    p.add_argument("--host-key", default=os.path.join("~", ".ssh", "id_rsa"))
    p.add_argument("--workspace", default=os.environ.get("FILAMENT_VIRSH_WORKSPACE",
                                                         DEFAULT_WORKSPACE),
                   help="directory holding the inventory and what this workspace created")
    p.add_argument("--dry-run", action="store_true",
                   help="print the libvirt XML that would be defined; change nothing")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--kill", action="store_true",
                      help="remove this workspace's VMs and the networks only they use")
    mode.add_argument("--cleanup", action="store_true",
                      help="remove ALL domains and ALL networks except 'default'")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from filament.cli import CliError
    from filament.provision.virsh.hypervisor import Hypervisor, HypervisorError
    from filament.provision.virsh.images import ImageError
    from filament.provision.virsh.inventory import HypervisorAccess
    from filament.provision.virsh.service import (ProvisionError, ProvisionRequest,
                                                  Provisioner)
    from filament.provision.virsh.topology import TopologyError
    from filament.provision.virsh.workspace import Workspace

    address = args.host_address or urllib.parse.urlparse(args.libvirt_uri).hostname \
        or "localhost"
    host = HypervisorAccess(address, args.host_user, os.path.expanduser(args.host_key))
    ws = Workspace(os.path.expanduser(args.workspace))
    prov = Provisioner(ws, lambda: Hypervisor(args.libvirt_uri), say=print,
                       progress=_progress_bar)
    try:
        if args.kill or args.cleanup:
            res = prov.kill(host) if args.kill else prov.cleanup(host)
            print(f"removed: {', '.join(res.removed) or 'nothing'}")
            return 0
        if not args.topology_nodes:
            raise CliError("--topology-nodes is required to provision "
                           "(or use --kill / --cleanup)", code=2)
        req = ProvisionRequest(
            nodes=args.topology_nodes, network=args.topology_network,
            extend=args.topology_extend, overcommit=args.host_memory_overcommit,
            prefix=args.prefix, image_url=args.image_url, image_checksum=args.image_checksum,
            force_image_download=args.force_image_download,
            disk_pool=os.path.abspath(os.path.expanduser(args.disk_pool)),
            disk_bus=args.disk_bus, virt_type=args.virt_type,
            lease_timeout=args.lease_timeout, overrides=tuple(args.extra_vars),
            topology_dirs=tuple(args.topology_dir), dry_run=args.dry_run, host=host)
        res = prov.provision(req)
    except (TopologyError, HypervisorError, ImageError, ProvisionError) as exc:
        raise CliError(str(exc)) from None
    if args.dry_run:
        return 0
    print(f"created: {', '.join(res.created) or 'nothing'}")
    print(f"unchanged: {', '.join(res.kept) or 'nothing'}")
    if res.removed:
        print(f"removed: {', '.join(res.removed)}")
    for name, ip in sorted(res.addresses.items()):
        print(f"{name} {ip}")
    print(f"inventory: {res.inventory}")
    return 0


def _progress_bar(url: str):
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import (BarColumn, DownloadColumn, Progress, TransferSpeedColumn)

    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), transient=True)
    task = bar.add_task(os.path.basename(urllib.parse.urlparse(url).path), total=None)
    state = {"started": False, "stopped": False}

    def update(done: int, total: int | None) -> None:
        if state["stopped"]:
            return
        if not state["started"]:
            bar.start()
            state["started"] = True
        bar.update(task, completed=done, total=total)
        if total is not None and done >= total:
            bar.stop()
            state["stopped"] = True
    return update
