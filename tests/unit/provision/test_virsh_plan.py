"""The plan (create/keep/replace/remove, extend indexes, conflicts), memory rule,
kill/cleanup targets and the inventory text."""

from dataclasses import replace

import pytest

from filament.provision.virsh.inventory import HypervisorAccess, NodeHost, host_names, render
from filament.provision.virsh.libvirt_xml import DomainFacts, domain_facts, network_xml
from filament.provision.virsh.plan import (Observed, PlanError, Settings, check_memory,
                                           cleanup_targets, image_urls, kill_targets, plan)
from filament.provision.virsh.topology import load_topology

WS = "/ws/one"
S = Settings(workspace=WS, disk_pool="/pool", image_url="file:///img/base.qcow2",
             images={"file:///img/base.qcow2": "/pool/base.qcow2"})


def topo(spec="undercloud:1,compute:2"):
    return load_topology([(n, int(c)) for n, c in (i.split(":") for i in spec.split(","))],
                         "3_nets", [])


def live_networks(t, prefix=None):
    return {(f"{prefix}-{n.name}" if prefix else n.name):
            network_xml(n, f"{prefix}-{n.name}" if prefix else n.name) for n in t.layout.networks}


def applied(t, settings=S, extra_domains=()):
    """What the hypervisor looks like after the plan for `t` has been carried out."""
    p = plan(t, settings, Observed())
    doms = {d.spec.name: domain_facts(d.xml) for d in p.domains}
    doms.update({f.name: f for f in extra_domains})
    return Observed(doms, live_networks(t, settings.prefix),
                    frozenset(n.name for n in p.networks))


def actions(p):
    return {**{n.name: n.action for n in p.networks},
            **{d.spec.name: d.action for d in p.domains},
            **{n: "remove" for n in p.remove_domains + p.remove_networks}}


def test_fresh_hypervisor_creates_everything():
    p = plan(topo(), S, Observed())
    assert actions(p) == {"data": "create", "management": "create", "external": "create",
                          "undercloud-0": "create", "compute-0": "create", "compute-1": "create"}
    assert p.required_memory_mib == 24576 + 2 * 8192


def test_same_command_again_changes_nothing():
    t = topo()
    p = plan(t, S, applied(t))
    assert set(actions(p).values()) == {"keep"} and not p.changes
    assert p.required_memory_mib == 0


def test_changed_node_is_replaced_and_dropped_nodes_removed():
    t = topo()
    seen = applied(t)
    t2 = load_topology([("undercloud", 1), ("compute", 1)], "3_nets", [],
                       overrides={"undercloud": {"memory": 4096}})
    p = plan(t2, S, seen)
    assert actions(p)["undercloud-0"] == "replace"
    assert actions(p)["compute-0"] == "keep"
    assert p.remove_domains == ("compute-1",)
    assert p.required_memory_mib == 4096


def test_extend_continues_after_the_highest_index():
    t = topo()
    seen = applied(t)
    p = plan(topo("compute:2"), replace(S, extend=True), seen)
    assert [d.spec.name for d in p.domains] == ["compute-2", "compute-3"]
    assert all(d.action == "create" for d in p.domains)
    assert p.remove_domains == () and p.remove_networks == ()
    # gaps do not get refilled: the next index is after the highest one in use
    gap = Observed({k: v for k, v in seen.domains.items() if k != "compute-0"}, seen.networks)
    assert [d.spec.name for d in plan(topo("compute:1"), replace(S, extend=True), gap).domains] \
        == ["compute-2"]


def test_foreign_domain_of_the_same_name_is_a_conflict():
    foreign = DomainFacts("compute-0", None, None, None, (), ())
    with pytest.raises(PlanError, match="'compute-0' already exists and belongs to nothing"):
        plan(topo(), S, Observed({"compute-0": foreign}))
    other_ws = DomainFacts("compute-1", "/ws/two", "compute", "x", (), ())
    with pytest.raises(PlanError, match="belongs to workspace /ws/two"):
        plan(topo(), S, Observed({"compute-1": other_ws}))


def test_existing_network_reused_when_shaped_alike_refused_otherwise():
    t = topo()
    same = Observed(networks=live_networks(t))
    assert {n.action for n in plan(t, S, same).networks} == {"keep"}
    changed = dict(live_networks(t))
    changed["management"] = changed["management"].replace("172.16.0.100", "172.16.0.99")
    with pytest.raises(PlanError, match="'management' exists with a different definition"):
        plan(t, S, Observed(networks=changed))


def test_prefix_names_everything():
    p = plan(topo("compute:1"), replace(S, prefix="lab1"), Observed())
    assert sorted(actions(p)) == ["lab1-compute-0", "lab1-data", "lab1-external",
                                  "lab1-management"]
    assert [n.network for n in p.domains[0].spec.nics] == [
        "lab1-data", "lab1-management", "lab1-external"]


def test_networks_no_longer_wanted_are_removed_unless_in_use():
    t = topo("compute:1")
    seen = applied(t)
    seen = Observed(seen.domains, {**seen.networks, "old": "<network><name>old</name></network>",
                                   "default": "<network><name>default</name></network>"},
                    seen.owned_networks | {"old", "default"})
    assert plan(t, S, seen).remove_networks == ("old",)
    user = DomainFacts("someone", None, None, None, (("network", "old", "m"),), ())
    busy = Observed({**seen.domains, "someone": user}, seen.networks, seen.owned_networks)
    assert plan(t, S, busy).remove_networks == ()


def test_os_node_without_image_is_refused_before_anything():
    with pytest.raises(PlanError, match="deploys an OS .* no image was given"):
        image_urls(topo("undercloud:1"), None)
    assert image_urls(topo("compute:3"), None) == []  # no OS, no image needed
    assert image_urls(topo("undercloud:1,compute:1"), "file:///b.qcow2") == ["file:///b.qcow2"]


# The memory rule, stated: required (MiB of the domains this run starts anew) must not
# exceed the hypervisor's free memory (MemFree + Buffers + Cached); no 20% allowance.
@pytest.mark.parametrize("required, free, overcommit, outcome", [
    (1024, 2048, False, None),
    (2048, 2048, False, None),
    (2049, 2048, False, "error"),
    (2049, 2048, True, "warning"),
])
def test_memory_rule(required, free, overcommit, outcome):
    if outcome == "error":
        with pytest.raises(PlanError, match=f"free memory is {free} MiB, the new domains "
                                            f"need {required} MiB; use --host-memory-overcommit"):
            check_memory(required, free, overcommit)
    elif outcome == "warning":
        assert "overcommitting" in check_memory(required, free, overcommit)
    else:
        assert check_memory(required, free, overcommit) is None


def test_kill_takes_our_domains_and_their_networks_only():
    t = topo("compute:1")
    other = DomainFacts("stranger", None, None, None, (("network", "external", "m"),), ())
    seen = applied(t, extra_domains=[other])
    seen = Observed(seen.domains, {**seen.networks, "default": "<network/>"}, seen.owned_networks)
    doms, nets = kill_targets(seen, WS)
    assert doms == ["compute-0"]
    assert nets == ["data", "management"]  # external is still used by `stranger`
    assert cleanup_targets(seen) == (["compute-0", "stranger"],
                                     ["data", "external", "management"])


def test_inventory_text():
    hv = HypervisorAccess("hv.test", "root", "/keys/hv")
    text = render(hv, [
        NodeHost("undercloud-0", "172.16.0.37", "root", "/keys/hv", "ssh",
                 ("undercloud", "openstack_nodes")),
        NodeHost("compute-0", "NA", "root", "/keys/hv", "ssh",
                 ("compute", "openstack_nodes", "overcloud_nodes"))])
    lines = text.splitlines()
    assert lines[0] == "localhost ansible_connection=local"
    assert lines[1] == ("hypervisor ansible_host=hv.test ansible_connection=ssh "
                        "ansible_user=root ansible_ssh_private_key_file=/keys/hv")
    assert lines[2].startswith("undercloud-0 ansible_host=172.16.0.37 ansible_connection=ssh")
    assert ('-o ProxyCommand="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
            '-W %h:%p -i /keys/hv root@hv.test"' in lines[2])
    assert "compute-0 ansible_host=NA" in lines[3]
    assert "[openstack_nodes]\nundercloud-0\ncompute-0\n" in text
    assert "[overcloud_nodes]\ncompute-0\n" in text
    assert host_names(text) == ["localhost", "hypervisor", "undercloud-0", "compute-0"]
