"""The workspace directory: the record of what this workspace created, and its inventory.

``state.json`` is written *before* each thing is created (intent first), so a run that
dies at any point leaves a record from which ``--kill`` removes everything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

STATE = "state.json"
INVENTORY = "hosts-prov"
INVENTORY_LINK = "hosts"


@dataclass
class State:
    networks: set[str] = field(default_factory=set)
    # name → {disks: [...], groups: [...], user, connection, address}
    domains: dict[str, dict] = field(default_factory=dict)


class Workspace:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser().absolute()
        self.state = self._load()

    @property
    def id(self) -> str:
        """Identity written into our domains' metadata: the workspace's absolute path."""
        return str(self.path)

    @property
    def inventory_path(self) -> Path:
        return self.path / INVENTORY_LINK

    def topology_dirs(self) -> list[Path]:
        return [self.path / "topology"]

    def _load(self) -> State:
        f = self.path / STATE
        if not f.exists():
            return State()
        data = json.loads(f.read_text())
        return State(set(data.get("networks", [])),
                     {k: dict(v) for k, v in data.get("domains", {}).items()})

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        data = {"networks": sorted(self.state.networks),
                "domains": {k: v for k, v in sorted(self.state.domains.items())}}
        tmp = self.path / (STATE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.path / STATE)

    def record_network(self, name: str) -> None:
        self.state.networks.add(name)
        self.save()

    def forget_network(self, name: str) -> None:
        self.state.networks.discard(name)
        self.save()

    def record_domain(self, name: str, **info) -> None:
        self.state.domains[name] = {**self.state.domains.get(name, {}), **info}
        self.save()

    def forget_domain(self, name: str) -> None:
        self.state.domains.pop(name, None)
        self.save()

    def write_inventory(self, text: str) -> Path:
        """Write ``hosts-prov`` and point the ``hosts`` symlink at it."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / INVENTORY
        tmp = self.path / (INVENTORY + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
        link = self.inventory_path
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(INVENTORY)
        return link
