"""The libvirt adapter: the only module that imports libvirt.

Thin calls into libvirt-python; every libvirt failure becomes a ``HypervisorError``
carrying libvirt's own message.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from typing import Iterator

from .libvirt_xml import DomainFacts, dhcp_host_xml, dhcp_hosts, domain_facts
from .plan import Observed


class HypervisorError(Exception):
    """libvirt refused or could not be reached."""


def _libvirt():
    try:
        import libvirt
    except ImportError:
        raise HypervisorError("libvirt-python is not installed "
                              "(pip install 'filament-sdn[virsh]')") from None
    return libvirt


@contextlib.contextmanager
def _calls(what: str) -> Iterator[None]:
    libvirt = _libvirt()
    try:
        yield
    except libvirt.libvirtError as exc:
        raise HypervisorError(f"{what}: {exc.get_error_message()}") from None


class Hypervisor:
    """One libvirt connection and the operations the provisioner needs."""

    def __init__(self, uri: str):
        libvirt = _libvirt()
        self.uri = uri
        self._lv = libvirt
        # Keep libvirt's default error handler from printing to stderr: we report.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        try:
            self.conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"libvirt is not reachable at {uri}: {exc.get_error_message()}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    # ------------------------------------------------------------ observation

    def observe(self, owned_networks: frozenset[str] = frozenset()) -> Observed:
        with _calls("listing domains and networks"):
            domains = {}
            for dom in self.conn.listAllDomains(0):
                facts = domain_facts(dom.XMLDesc(0))
                domains[facts.name] = facts
            networks = {n.name(): n.XMLDesc(0) for n in self.conn.listAllNetworks(0)}
        return Observed(domains, networks, owned_networks)

    def free_memory_mib(self) -> int:
        """Free memory as infrared counts it: MemFree + Buffers + Cached."""
        with _calls("reading the hypervisor's memory"):
            stats = self.conn.getMemoryStats(self._lv.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0)
        kib = sum(stats.get(k, 0) for k in ("free", "buffers", "cached"))
        return kib // 1024

    def domain(self, name: str) -> DomainFacts:
        with _calls(f"reading domain {name}"):
            return domain_facts(self.conn.lookupByName(name).XMLDesc(0))

    def domain_active(self, name: str) -> bool:
        with _calls(f"reading domain {name}"):
            return bool(self.conn.lookupByName(name).isActive())

    # ------------------------------------------------------------ networks

    def define_network(self, xml: str, autostart: bool) -> None:
        name = ET.fromstring(xml).findtext("name")
        with _calls(f"defining network {name}"):
            net = self.conn.networkDefineXML(xml)
            net.setAutostart(1 if autostart else 0)
            net.create()

    def ensure_network_active(self, name: str) -> None:
        with _calls(f"starting network {name}"):
            net = self.conn.networkLookupByName(name)
            if not net.isActive():
                net.create()

    def remove_network(self, name: str) -> None:
        lv = self._lv
        with _calls(f"removing network {name}"):
            try:
                net = self.conn.networkLookupByName(name)
            except lv.libvirtError as exc:
                if exc.get_error_code() == lv.VIR_ERR_NO_NETWORK:
                    return
                raise
            if net.isActive():
                net.destroy()
            net.undefine()

    def lease(self, network: str, mac: str) -> str | None:
        """The IPv4 address dnsmasq leased to `mac` on `network`, if any."""
        with _calls(f"reading DHCP leases of {network}"):
            leases = self.conn.networkLookupByName(network).DHCPLeases(mac)
        for lease in leases:
            if lease.get("type") == self._lv.VIR_IP_ADDR_TYPE_IPV4 and lease.get("ipaddr"):
                return lease["ipaddr"]
        return None

    def static_hosts(self, network: str) -> dict[str, tuple[str, str]]:
        with _calls(f"reading network {network}"):
            net = self.conn.networkLookupByName(network)
            return dhcp_hosts(net.XMLDesc(self._lv.VIR_NETWORK_XML_INACTIVE))

    def pin(self, network: str, mac: str, name: str, ip: str) -> None:
        """Make the lease a static host entry so the address survives reboots."""
        self._update_host(network, self._lv.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                          dhcp_host_xml(mac, name, ip))

    def unpin(self, network: str, mac: str) -> None:
        hosts = self.static_hosts(network)
        if mac.lower() in hosts:
            name, ip = hosts[mac.lower()]
            self._update_host(network, self._lv.VIR_NETWORK_UPDATE_COMMAND_DELETE,
                              dhcp_host_xml(mac, name, ip))

    def _update_host(self, network: str, command: int, xml: str) -> None:
        lv = self._lv
        with _calls(f"updating DHCP hosts of {network}"):
            net = self.conn.networkLookupByName(network)
            flags = lv.VIR_NETWORK_UPDATE_AFFECT_CONFIG
            if net.isActive():
                flags |= lv.VIR_NETWORK_UPDATE_AFFECT_LIVE
            net.update(command, lv.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, xml, flags)

    # ------------------------------------------------------------ domains

    def define_domain(self, xml: str, autostart: bool = True) -> None:
        name = ET.fromstring(xml).findtext("name")
        with _calls(f"defining domain {name}"):
            dom = self.conn.defineXML(xml)
            dom.setAutostart(1 if autostart else 0)

    def start_domain(self, name: str) -> None:
        with _calls(f"starting domain {name}"):
            dom = self.conn.lookupByName(name)
            if not dom.isActive():
                dom.create()

    def remove_domain(self, name: str) -> None:
        lv = self._lv
        with _calls(f"removing domain {name}"):
            try:
                dom = self.conn.lookupByName(name)
            except lv.libvirtError as exc:
                if exc.get_error_code() == lv.VIR_ERR_NO_DOMAIN:
                    return
                raise
            if dom.isActive():
                dom.destroy()
            flags = (lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                     | lv.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                     | lv.VIR_DOMAIN_UNDEFINE_NVRAM)
            dom.undefineFlags(flags)
