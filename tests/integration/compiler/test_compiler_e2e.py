"""The compiler against a real config API process, over HTTP.

Each test has its own API process (so the compiler never writes into another
test's objects) and waits on the `applied` barrier, never on sleep.
"""

from __future__ import annotations

import asyncio

import pytest

from filament.compiler.service import CompilerService
from filament.config.client import ConfigClient

PROJECT = ["default-domain", "default-project"]


async def current_revision(client: ConfigClient) -> int:
    async for ev in client.watch(types=["global-system-config"]):
        if ev["op"] == "synced":
            return ev["rev"]
    raise AssertionError("watch ended before synced")


async def settle(client: ConfigClient) -> int:
    """Wait until the compiler has applied everything written so far."""
    rev = max(client.last_revision, await current_revision(client))
    return await client.wait_applied("compiler", rev, timeout=20)


@pytest.fixture
async def api(api_process):
    proc = api_process()
    url = await asyncio.to_thread(proc.start)
    client = ConfigClient(url)
    yield proc, url, client
    await client.close()


@pytest.fixture
async def compiled(api):
    proc, url, client = api
    svc = CompilerService(url, resync=3600)
    await svc.start()
    yield url, client, svc
    await svc.stop()


def _vnc(url: str):
    from vnc_api import vnc_api
    host, port = url.rsplit("//", 1)[1].split(":")
    return vnc_api.VncApi(api_server_host=host, api_server_port=int(port), auth_type="noauth")


async def test_network_gets_route_target_read_back_with_vnc_api(compiled):
    url, client, _ = compiled
    vnc = await asyncio.to_thread(_vnc, url)
    from vnc_api.gen.resource_client import VirtualNetwork

    def create():
        project = vnc.project_read(fq_name=PROJECT)
        return vnc.virtual_network_create(VirtualNetwork("e2e-red", parent_obj=project))
    await asyncio.to_thread(create)
    await settle(client)

    def read():
        ri = vnc.routing_instance_read(fq_name=[*PROJECT, "e2e-red", "e2e-red"])
        refs = ri.get_route_target_refs()
        rtgt = vnc.route_target_read(fq_name=refs[0]["to"])
        return ri, refs, rtgt
    ri, refs, rtgt = await asyncio.to_thread(read)
    assert ri.get_routing_instance_is_default()
    assert len(refs) == 1
    name = refs[0]["to"][0]
    asn, number = name.split(":")[1:]
    assert asn == "64512" and 8000000 <= int(number) < 8000000 + 2 ** 24
    assert refs[0]["attr"].get_import_export() is None
    assert rtgt.get_id_perms().get_creator() == "filament.compiler"
    # the pre-existing networks' instances got theirs first, except ip-fabric's __default__
    fabric = await asyncio.to_thread(vnc.routing_instance_read,
                                     fq_name=[*PROJECT, "ip-fabric", "__default__"])
    assert not fabric.get_route_target_refs()


async def _network(client, name, policies=(), **props):
    refs = [{"to": [*PROJECT, p], "attr": {"sequence": {"major": i, "minor": 0}, "timer": None}}
            for i, p in enumerate(policies)]
    return await client.create("virtual-network", {"fq_name": [*PROJECT, name],
                                                   "parent_type": "project",
                                                   "network_policy_refs": refs, **props})


async def _by_fq(client, type_, fq):
    uuid = await client.fqname_to_id(type_, fq)
    return await client.read(type_, uuid)


async def test_policy_connects_and_detaching_removes_exactly_that(compiled):
    _, client, svc = compiled
    await client.create("network-policy", {
        "fq_name": [*PROJECT, "web"], "parent_type": "project",
        "network_policy_entries": {"policy_rule": [{
            "direction": "<>", "protocol": "tcp",
            "src_addresses": [{"virtual_network": ":".join([*PROJECT, "red"])}],
            "dst_addresses": [{"virtual_network": ":".join([*PROJECT, "blue"])}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_ports": [{"start_port": 80, "end_port": 80}],
            "action_list": {"simple_action": "pass"}}]}})
    await _network(client, "red", ["web"])
    blue = await _network(client, "blue", ["web"])
    await settle(client)

    red_acl = await _by_fq(client, "access-control-list", [*PROJECT, "red", "red"])
    rules = red_acl["access_control_list_entries"]["acl_rule"]
    assert [r["action_list"]["simple_action"] for r in rules] == ["pass", "pass", "deny", "pass"]
    assert rules[0]["match_condition"]["protocol"] == "6"
    assert red_acl["id_perms"]["creator"] == "filament.compiler"
    blue_ri = await _by_fq(client, "routing-instance", [*PROJECT, "blue", "blue"])
    assert [r["to"] for r in blue_ri.get("routing_instance_refs", [])] == \
        [[*PROJECT, "red", "red"]]

    await client.update("virtual-network", blue["uuid"], {"network_policy_refs": []})
    await settle(client)
    blue_ri = await _by_fq(client, "routing-instance", [*PROJECT, "blue", "blue"])
    assert not blue_ri.get("routing_instance_refs")
    acls = {":".join(a["fq_name"]) for a in await client.list("access-control-list")}
    assert ":".join([*PROJECT, "red", "red"]) in acls
    assert ":".join([*PROJECT, "blue", "blue"]) not in acls
    assert any("partially connected" in str(p) for p in svc.problems)


async def test_bad_input_does_not_stall_the_barrier(compiled):
    _, client, svc = compiled
    await client.create("network-policy", {
        "fq_name": [*PROJECT, "to-ghost"], "parent_type": "project",
        "network_policy_entries": {"policy_rule": [{
            "direction": "<>", "protocol": "any",
            "src_addresses": [{"virtual_network": "local"}],
            "dst_addresses": [{"virtual_network": ":".join([*PROJECT, "ghost"])}],
            "action_list": {"simple_action": "pass"}}]}})
    lonely = await _network(client, "lonely", ["to-ghost"])
    await settle(client)
    assert any("ghost" in str(p) and "not found" in str(p) for p in svc.problems)
    ri = await _by_fq(client, "routing-instance", [*PROJECT, "lonely", "lonely"])
    assert not ri.get("routing_instance_refs")
    assert len(ri["route_target_refs"]) == 1
    # a network whose ACL the compiler wrote can still be deleted; its ACL goes with it
    await client.delete("virtual-network", lonely["uuid"])
    await settle(client)
    acls = {":".join(a["fq_name"]) for a in await client.list("access-control-list")}
    assert ":".join([*PROJECT, "lonely", "lonely"]) not in acls
    assert not any("ghost" in str(p) for p in svc.problems)


async def test_restart_keeps_numbers_and_sweeps_orphans(api):
    _, url, client = api
    first = CompilerService(url, resync=3600)
    await first.start()
    await _network(client, "keep")
    gone = await _network(client, "gone")
    await settle(client)
    keep_ri = await _by_fq(client, "routing-instance", [*PROJECT, "keep", "keep"])
    gone_ri = await _by_fq(client, "routing-instance", [*PROJECT, "gone", "gone"])
    gone_rt = gone_ri["route_target_refs"][0]["to"]
    await first.stop()

    await client.delete("virtual-network", gone["uuid"])      # while no compiler runs
    second = CompilerService(url, resync=3600)
    await second.start()
    try:
        await settle(client)
        again = await _by_fq(client, "routing-instance", [*PROJECT, "keep", "keep"])
        assert again["route_target_refs"] == keep_ri["route_target_refs"]
        names = {tuple(r["fq_name"]) for r in await client.list("route-target")}
        assert tuple(gone_rt) not in names          # the orphan was swept
        # and its number is the lowest free one again
        new = await _network(client, "new")
        await settle(client)
        new_ri = await _by_fq(client, "routing-instance", [*PROJECT, "new", "new"])
        assert new_ri["route_target_refs"][0]["to"] == gone_rt
        assert new["uuid"]
    finally:
        await second.stop()


async def test_filament_up_runs_the_compiler(api_process):
    proc = api_process(command="up", extra=["--only", "compiler"])
    url = await asyncio.to_thread(proc.start)
    client = ConfigClient(url)
    try:
        await _network(client, "up-net")
        await settle(client)
        ri = await _by_fq(client, "routing-instance", [*PROJECT, "up-net", "up-net"])
        assert ri["route_target_refs"][0]["to"][0].startswith("target:64512:80000")
    finally:
        await client.close()


async def test_router_group_and_network_delete_over_http(compiled):
    _, client, svc = compiled
    red = await _network(client, "lr-red")
    blue = await _network(client, "lr-blue")
    ports = []
    for vn in (red, blue):
        ports.append(await client.create("virtual-machine-interface", {
            "fq_name": [*PROJECT, f"{vn['fq_name'][-1]}-gw"], "parent_type": "project",
            "virtual_network_refs": [{"to": vn["fq_name"], "attr": None}]}))
    lr = await client.create("logical-router", {
        "fq_name": [*PROJECT, "router"], "parent_type": "project",
        "logical_router_gateway_external": False,
        "virtual_machine_interface_refs": [{"to": p["fq_name"], "attr": None} for p in ports]})
    sg = await client.create("security-group", {
        "fq_name": [*PROJECT, "web"], "parent_type": "project",
        "security_group_entries": {"policy_rule": [{
            "direction": ">", "protocol": "tcp", "ethertype": "IPv4",
            "src_addresses": [{"subnet": {"ip_prefix": "192.0.2.0", "ip_prefix_len": 24}}],
            "dst_addresses": [{"security_group": "local"}],
            "dst_ports": [{"start_port": 80, "end_port": 80}]}]}})
    await settle(client)

    router = await client.read("logical-router", lr["uuid"])
    lr_rt = router["route_target_refs"][0]["to"]
    for name in ("lr-red", "lr-blue"):
        ri = await _by_fq(client, "routing-instance", [*PROJECT, name, name])
        assert lr_rt in [r["to"] for r in ri["route_target_refs"]]
    ingress = await _by_fq(client, "access-control-list", [*PROJECT, "web",
                                                           "ingress-access-control-list"])
    [entry] = ingress["access_control_list_entries"]["acl_rule"]
    assert entry["match_condition"]["dst_port"] == {"start_port": 80, "end_port": 80}
    assert entry["action_list"]["simple_action"] == "pass"

    # deleting intent removes what it derived, and nothing blocks the deletes
    await client.delete("logical-router", lr["uuid"])
    await client.delete("security-group", sg["uuid"])
    for p in ports:
        await client.delete("virtual-machine-interface", p["uuid"])
    await client.delete("virtual-network", blue["uuid"])
    await settle(client)
    names = {tuple(r["fq_name"]) for r in await client.list("route-target")}
    assert tuple(lr_rt) not in names
    acls = {":".join(a["fq_name"]) for a in await client.list("access-control-list")}
    assert not any(a.startswith(":".join([*PROJECT, "web"])) for a in acls)
    ri = await _by_fq(client, "routing-instance", [*PROJECT, "lr-red", "lr-red"])
    assert [r["to"] for r in ri["route_target_refs"]] != [] and \
        lr_rt not in [r["to"] for r in ri["route_target_refs"]]
    assert not svc.problems


async def test_compiler_as_its_own_process(api):
    import subprocess
    import sys
    _, url, client = api
    proc = subprocess.Popen([sys.executable, "-m", "filament.compiler", "--api", url,
                             "--name", "solo", "--log-level", "WARNING"])
    try:
        await _network(client, "solo-net")
        await settle(client)
        ri = await _by_fq(client, "routing-instance", [*PROJECT, "solo-net", "solo-net"])
        assert len(ri["route_target_refs"]) == 1
    finally:
        proc.terminate()
        proc.wait(10)
