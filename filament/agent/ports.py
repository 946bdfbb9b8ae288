"""Port API records (vrouter-port-control's ``POST /port`` body): validation and the
on-disk store (one JSON file per VMI uuid) a restarted agent replays."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from filament.agent.config import Vmi
from filament.agent.view import Network, Port

log = logging.getLogger("filament.agent.ports")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
IFNAME_RE = re.compile(r"^[^\s/:]{1,15}$")
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


class PortStore:
    """``<dir>/<vmi-uuid>`` JSON files, written on add (never overwritten) and removed on delete."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, PortRecord]:
        out = {}
        for f in sorted(self.dir.iterdir()):
            if not f.is_file() or not UUID_RE.match(f.name):
                continue
            try:
                rec = parse_port(json.loads(f.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("port file %s ignored: %s", f, exc)
                continue
            out[rec.uuid] = rec
        return out

    def save(self, rec: PortRecord) -> None:
        path = self.dir / rec.uuid
        if path.exists():
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec.raw, sort_keys=True))
        os.replace(tmp, path)

    def delete(self, uuid: str) -> None:
        try:
            (self.dir / uuid).unlink()
        except FileNotFoundError:
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
