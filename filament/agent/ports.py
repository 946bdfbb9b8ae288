"""Port API records: validation of vrouter-port-control's ``POST /port`` body and of the
CNI's ``POST /vm`` binding, the on-disk store a restarted agent replays
(``<dir>/<vmi-uuid>`` and ``<dir>/vm/<vm-name>/<vmi-uuid>``), and the pure views the
port API answers with (``/port``, ``/vm``, ``/vm-cfg``)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from filament.agent.config import ConfigDB, Vmi, as_list, vmis
from filament.agent.view import AgentView, Network, Port

log = logging.getLogger("filament.agent.ports")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
IFNAME_RE = re.compile(r"^[^\s/:]{1,15}$")
VM_NAME_RE = re.compile(r"^[^/\x00]{1,255}$")
BINDING = -1  # PortRecord.type of a CNI VM-VN binding (POST /vm): IP and MAC come from config
REQUIRED = {
    "id": str, "instance-id": str, "vn-id": str, "vm-project-id": str, "display-name": str,
    "ip-address": str, "ip6-address": str, "type": int, "system-name": str, "mac-address": str,
    "rx-vlan-id": int, "tx-vlan-id": int,
}


class PortError(ValueError):
    """A port request the agent refuses (the message goes back to the caller)."""


@dataclass(frozen=True, slots=True)
class PortRecord:
    uuid: str
    instance: str
    vn: str
    name: str
    ip: str
    mac: str
    ifname: str
    type: int
    raw: dict


def parse_port(body: dict) -> PortRecord:
    if not isinstance(body, dict):
        raise PortError("port must be a JSON object")
    for key, typ in REQUIRED.items():
        if not isinstance(body.get(key), typ) or (typ is int and isinstance(body.get(key), bool)):
            raise PortError(f"Invalid or missing field for {key}")
    if not UUID_RE.match(body["id"]):
        raise PortError(f"invalid port uuid {body['id']!r}")
    mac = body["mac-address"]
    if not MAC_RE.match(mac) or mac.replace(":", "").strip("0") == "":
        raise PortError(f"invalid mac-address {mac!r}")
    try:
        ipaddress.IPv4Address(body["ip-address"])
    except ValueError:
        raise PortError(f"invalid ip-address {body['ip-address']!r}") from None
    if body["type"] not in (0, 1, 2):
        raise PortError(f"invalid port type {body['type']}")
    if body["type"] == 0 and not UUID_RE.match(body["vn-id"]):
        raise PortError(f"invalid vn-id {body['vn-id']!r}")
    if not IFNAME_RE.match(body["system-name"]):
        raise PortError(f"invalid system-name {body['system-name']!r}")
    return PortRecord(body["id"], body["instance-id"], body["vn-id"], body["display-name"], body["ip-address"],
                      mac.lower(), body["system-name"], body["type"], dict(body))


VM_BINDING_FIELDS = ("vm-uuid", "vm-name", "host-ifname", "vn-uuid", "vmi-uuid")


def parse_vm_binding(body: dict) -> PortRecord:
    """The CNI's ``POST /vm`` body: bind config VMI ``vmi-uuid`` to ``host-ifname``."""
    if not isinstance(body, dict):
        raise PortError("vm binding must be a JSON object")
    for key in VM_BINDING_FIELDS:
        if not isinstance(body.get(key), str) or not body[key]:
            raise PortError(f"Invalid or missing field for {key}")
    for key in ("vm-uuid", "vmi-uuid", "vn-uuid"):
        if not UUID_RE.match(body[key]):
            raise PortError(f"invalid {key} {body[key]!r}")
    if not VM_NAME_RE.match(body["vm-name"]) or body["vm-name"] in (".", ".."):
        raise PortError(f"invalid vm-name {body['vm-name']!r}")
    if not IFNAME_RE.match(body["host-ifname"]):
        raise PortError(f"invalid host-ifname {body['host-ifname']!r}")
    return PortRecord(body["vmi-uuid"], body["vm-uuid"], body["vn-uuid"], body["vm-name"], "0.0.0.0", "",
                      body["host-ifname"], BINDING, dict(body))


class PortStore:
    """``<dir>/<vmi-uuid>`` JSON files for ports and ``<dir>/vm/<vm-name>/<vmi-uuid>`` for
    CNI bindings, written on add (never overwritten) and removed on delete."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, PortRecord]:
        out = {}
        files = [(f, parse_port) for f in sorted(self.dir.iterdir())]
        vm_dir = self.dir / "vm"
        if vm_dir.is_dir():
            files += [(f, parse_vm_binding) for d in sorted(vm_dir.iterdir()) if d.is_dir() for f in sorted(d.iterdir())]
        for f, parse in files:
            if not f.is_file() or not UUID_RE.match(f.name):
                continue
            try:
                rec = parse(json.loads(f.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("port file %s ignored: %s", f, exc)
                continue
            out[rec.uuid] = rec
        return out

    def path(self, rec: PortRecord) -> Path:
        return self.dir / "vm" / rec.name / rec.uuid if rec.type == BINDING else self.dir / rec.uuid

    def save(self, rec: PortRecord) -> None:
        path = self.path(rec)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec.raw, sort_keys=True))
        os.replace(tmp, path)

    def delete(self, rec: PortRecord | str) -> None:
        """Remove a record's file (a bare uuid names a ``POST /port`` file)."""
        path = self.path(rec) if isinstance(rec, PortRecord) else self.dir / rec
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        if isinstance(rec, PortRecord) and rec.type == BINDING:
            try:
                path.parent.rmdir()  # the VM's directory, once its last binding is gone
            except OSError:
                pass


def local_ports(records: dict[str, PortRecord], vmis: dict[str, Vmi], networks: dict[str, Network]) -> dict[str, Port]:
    """Ports the datapath can configure: the record binds a VMI to an interface; config
    gives its network (by the VMI, or the record's vn-id) and, if the record has none,
    its IP and MAC. Pure."""
    by_vn_uuid = {n.uuid: n.vrf for n in networks.values() if n.uuid}
    out = {}
    for rec in records.values():
        vmi = vmis.get(rec.uuid)
        vrf = (vmi.vrf if vmi else "") or by_vn_uuid.get(rec.vn, "")
        if not vrf:
            continue
        ip = rec.ip if rec.ip != "0.0.0.0" else (vmi.ips[0] if vmi and vmi.ips else "")
        mac = rec.mac or (vmi.macs[0] if vmi and vmi.macs else "")
        if ip and mac:
            out[rec.uuid] = Port(rec.uuid, rec.ifname, mac, ip, vrf, vm=rec.instance,
                                 security_groups=vmi.security_groups if vmi else ())
    return out


# ---- what the port API answers (pure views over the records and the AgentView) ----------


def port_state(rec: PortRecord, view: AgentView, configured: set[str], vif_errors: dict[str, str]) -> str:
    """``Active`` or ``Inactive: <why>`` (the ItfSandeshData ``active`` wording), so a
    caller sees what a port still waits for: config, a free IP, or its interface."""
    if rec.ifname in vif_errors and rec.uuid in configured:
        return f"Inactive: interface {rec.ifname}: {vif_errors[rec.ifname]}"
    if rec.uuid in configured:
        return "Active"
    port = view.ports.get(rec.uuid)
    if port is None:
        if not any(n.uuid == rec.vn for n in view.networks.values()) and rec.vn:
            return f"Inactive: virtual network {rec.vn} unknown to this agent (no config for it yet)"
        if not rec.vn:
            return "Inactive: no virtual network (no config for this port yet)"
        return "Inactive: no IP address or MAC for this port in config yet"
    if port.vrf not in view.networks:
        return f"Inactive: routing instance {port.vrf} not ready (no VNI yet)"
    try:
        ipaddress.IPv4Address(port.ip)
    except ValueError:
        return f"Inactive: invalid IP address {port.ip!r}"
    other = next((p.uuid for p in view.ports.values()
                  if p.vrf == port.vrf and p.ip == port.ip and p.uuid != port.uuid and p.uuid in configured), "")
    return f"Inactive: IP {port.ip} already used by port {other} in {port.vrf}" if other else "Inactive"


def port_item(rec: PortRecord, view: AgentView) -> dict:
    """One port as ``GET /port/<uuid>`` and ``GET /vm/<vm-uuid>`` items show it."""
    port = view.ports.get(rec.uuid)
    out = {"id": rec.uuid, "instance-id": rec.instance, "vn-id": rec.vn, "vm-project-id": rec.raw.get("vm-project-id", ""),
           "mac-address": port.mac if port else rec.mac, "system-name": rec.ifname,
           "rx-vlan-id": rec.raw.get("rx-vlan-id", -1), "tx-vlan-id": rec.raw.get("tx-vlan-id", -1),
           "vhostuser-mode": rec.raw.get("vhostuser-mode", 0), "ip-address": port.ip if port else rec.ip,
           "plen": 32, "dns-server": "", "gateway": ""}
    net = view.networks.get(port.vrf) if port else None
    if port and net:
        out["vn-id"] = net.uuid or rec.vn
        ip = ipaddress.IPv4Address(port.ip) if _is_ipv4(port.ip) else None
        for sn in net.subnets:
            prefix = ipaddress.ip_network(sn.prefix, strict=False)
            if ip is None or ip in prefix:
                out["plen"] = prefix.prefixlen
                out["gateway"] = out["dns-server"] = sn.gateway
                break
    for key in ("author", "time"):
        if key in rec.raw:
            out[key] = rec.raw[key]
    return out


def _is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return False
    return True


def vm_items(records: dict[str, PortRecord], view: AgentView, configured: set[str], vm_uuid: str,
             vmi_uuid: str = "") -> list[dict]:
    """``GET /vm/<vm-uuid>[/<vmi-uuid>]``: the VM's operational ports (configured in the
    datapath, so with IP and gateway); empty until then (the caller answers 404)."""
    return [port_item(r, view) for r in sorted(records.values(), key=lambda r: r.uuid)
            if r.instance == vm_uuid and (not vmi_uuid or r.uuid == vmi_uuid) and r.uuid in configured]


def vm_cfg(db: ConfigDB, view: AgentView, vm_name: str) -> list[dict] | None:
    """``GET /vm-cfg/<vm-name>``: the config view of the VMIs of the VM with that name.
    None (404) when the name is unknown, the VM has no VMIs, or a VMI's network is not
    known yet: what the CNI polls for."""
    items = []
    for v in sorted(vmis(db).values(), key=lambda v: v.name):
        if v.vm_name != vm_name:
            continue
        net = view.networks.get(v.vrf)
        if net is None:
            return None
        props = db.nodes.get(("virtual-machine-interface", v.name), {})
        kvs = as_list((props.get("annotations") or {}).get("key_value_pair"))
        vlan = (props.get("virtual_machine_interface_properties") or {}).get("sub_interface_vlan_tag")
        items.append({
            "id": v.uuid, "vm-uuid": v.vm, "vn-id": net.uuid, "vn-name": v.vrf.rsplit(":", 1)[0],
            "mac-address": v.macs[0] if v.macs else "", "sub-interface": bool(vlan), "vlan-id": int(vlan or -1),
            "annotations": [f"{{{kv.get('key', '')}:{kv.get('value', '')}}}" for kv in kvs if isinstance(kv, dict)],
        })
    return items or None
