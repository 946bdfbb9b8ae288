"""The objects the original API server creates at first start (idempotent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filament.config.graph import Obj, Txn

if TYPE_CHECKING:
    from filament.config.service import ConfigService

GSC = ["default-global-system-config"]
PROJECT = ["default-domain", "default-project"]
TAG_TYPES = ["label", "application", "tier", "deployment", "site", "neutron_fwaas", "neutron_tag"]


def ensure_defaults(service: ConfigService) -> None:
    from filament.config.service import Ctx

    txn = Txn(service.graph)
    ctx = Ctx(service, txn)

    def make(type_: str, fq: list[str], parent: Obj | None = None, props: dict | None = None,
             refs: dict | None = None) -> Obj:
        existing = txn.lookup(type_, fq)
        if existing is not None:
            return existing
        return service.make_object(ctx, type_, fq, parent, props or {}, refs or {})

    gsc = make("global-system-config", GSC, None, {
        "autonomous_system": 64512, "config_version": "1.0", "enable_4byte_as": False,
        "ibgp_auto_mesh": True, "mac_aging_time": 300, "igmp_enable": False,
        "enable_security_policy_draft": False})
    gvc = make("global-vrouter-config", GSC + ["default-global-vrouter-config"], gsc,
               {"enable_security_logging": True, "encryption_mode": "none"})
    domain = make("domain", ["default-domain"])
    project = make("project", PROJECT, domain)
    make("namespace", ["default-domain", "default-namespace"], domain)
    make("virtual-network", PROJECT + ["default-virtual-network"], project)
    make("network-ipam", PROJECT + ["default-network-ipam"], project,
         {"perms2": {"owner": "cloud-admin", "owner_access": 7, "global_access": 5,
                     "share": []}})
    make("fabric", GSC + ["default-fabric"], gsc,
         {"fabric_enterprise_style": True, "disable_vlan_vn_uniqueness_check": False})
    pm = make("policy-management", ["default-policy-management"])
    make("application-policy-set", ["default-policy-management", "default-application-policy-set"],
         pm, {"all_applications": True}, {"global-vrouter-config": [[gvc.uuid, None]]})
    fabric_vn = make("virtual-network", PROJECT + ["ip-fabric"], project,
                     {"is_provider_network": True})
    make("routing-instance", fabric_vn.fq_name + ["__default__"], fabric_vn)
    make("virtual-network", PROJECT + ["__link_local__"], project)
    dci = make("virtual-network", PROJECT + ["dci-network"], project)
    make("routing-instance", dci.fq_name + ["__default__"], dci)
    make("alarm", GSC + ["system-defined-bottle-request-size-limit"], gsc)
    make("security-group", PROJECT + ["__no_rule__"], project, {
        "security_group_entries": {"policy_rule": []},
        "id_perms": {"description": "Security group with no rules"},
        "perms2": {"owner": "cloud-admin", "owner_access": 7, "global_access": 5, "share": []}})
    make("discovery-service-assignment", ["default-discovery-service-assignment"])
    make("global-qos-config", GSC + ["default-global-qos-config"], gsc)
    make("network-ipam", PROJECT + ["service-chain-flat-ipam"], project, {
        "ipam_subnet_method": "flat-subnet",
        "ipam_subnets": {"subnets": [
            {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 8}},
            {"subnet": {"ip_prefix": "::ffff", "ip_prefix_len": 104}}]}})
    for i, name in enumerate(TAG_TYPES):
        make("tag-type", [name], None, {"tag_type_id": f"0x{i:04x}", "display_name": name,
                                         "id_perms": {"user_visible": False}})
    service.commit(txn)
