"""The Ansible inventory (INI) written into the workspace, as infrared writes it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

NO_ADDRESS = "NA"  # nodes without an OS (or not yet leased) keep infrared's placeholder


@dataclass(frozen=True)
class HypervisorAccess:
    address: str
    user: str = "root"
    key: str = "~/.ssh/id_rsa"


@dataclass(frozen=True)
class NodeHost:
    name: str
    address: str  # lease IP or NO_ADDRESS
    user: str
    key: str
    connection: str
    groups: tuple[str, ...]


def proxy_args(hv: HypervisorAccess) -> str:
    """ssh options that reach a guest through the hypervisor (guests sit on NAT nets)."""
    return ("-o BatchMode=yes -o ForwardAgent=yes -o ServerAliveInterval=30 "
            "-o ControlMaster=auto -o ControlPersist=30m -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null "
            f'-o ProxyCommand="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
            f'-W %h:%p -i {hv.key} {hv.user}@{hv.address}"')


def render(hv: HypervisorAccess, nodes: list[NodeHost]) -> str:
    """INI text: host lines, then one section per group in first-seen order."""
    lines = ["localhost ansible_connection=local",
             f"hypervisor ansible_host={hv.address} ansible_connection=ssh "
             f"ansible_user={hv.user} ansible_ssh_private_key_file={hv.key}"]
    groups: dict[str, list[str]] = {"local": ["localhost"], "hypervisor": ["hypervisor"]}
    proxy = proxy_args(hv)
    for n in nodes:
        lines.append(f"{n.name} ansible_host={n.address} ansible_connection={n.connection} "
                     f"ansible_user={n.user} ansible_ssh_private_key_file={n.key} "
                     f"ansible_ssh_common_args='{proxy}'")
        for g in n.groups:
            if g not in ("all", "ungrouped"):
                groups.setdefault(g, []).append(n.name)
    lines.append("")
    for g, members in groups.items():
        lines.append(f"[{g}]")
        lines.extend(members)
        lines.append("")
    return "\n".join(lines)


def host_names(text: str) -> list[str]:
    """Host names of an inventory written by `render` (host lines before the sections)."""
    names = []
    for line in text.splitlines():
        if line.startswith("["):
            break
        if line.strip():
            names.append(line.split()[0])
    return names
