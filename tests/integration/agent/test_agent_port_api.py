"""The agent's port API (:9091) as vrouter-port-control and the CNI use it, against a real
config API, control node and a Linux datapath in a compute-host namespace: add / get /
list / delete ports, the CNI's VM binding and its `/vm-cfg` and `/vm` polls, and bad
input answered clearly while the other ports keep working."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid

import aiohttp
import pytest

from filament.agent.service import AgentOptions, AgentService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService

from netns import Lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]
GSC = "default-global-system-config"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]
NOT_FOUND = {"error": "{ Not Found }"}


async def until(pred, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await pred():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.05)


def ref(obj):
    return [{"to": obj["fq_name"], "uuid": obj["uuid"]}]


async def make_vmi(api, vn, vm, name, ip, mac, annotations=None):
    body = {"fq_name": PROJ + [name], "parent_type": "project", "virtual_network_refs": ref(vn),
            "virtual_machine_refs": ref(vm), "virtual_machine_interface_mac_addresses": {"mac_address": [mac]}}
    if annotations:
        body["annotations"] = {"key_value_pair": [{"key": k, "value": v} for k, v in annotations.items()]}
    vmi = await api.create("virtual-machine-interface", body)
    await api.create("instance-ip", {"fq_name": [name], "instance_ip_address": ip,
                                     "virtual_network_refs": ref(vn), "virtual_machine_interface_refs": ref(vmi)})
    return vmi


def port_body(vmi_uuid, vm, vn_uuid, ifname, ip, mac):
    return {"id": vmi_uuid, "instance-id": vm["uuid"], "vn-id": vn_uuid, "vm-project-id": "",
            "display-name": vm["fq_name"][-1], "ip-address": ip, "ip6-address": "", "type": 0,
            "system-name": ifname, "mac-address": mac, "rx-vlan-id": -1, "tx-vlan-id": -1}


@pytest.fixture
def lab():
    lab = Lab("papi")
    try:
        yield lab
    finally:
        lab.close()


async def test_port_api_ports_vm_polls_and_bad_input(api_server, lab, tmp_path):
    from filament.datapath.linux import LinuxDatapath

    sfx = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.3.1", "198.18.3.2")
    w1 = lab.workload(h1, "tapa1", "a1", "100.64.7.11", "02:00:00:00:07:11", "100.64.7.1")
    pod = lab.workload(h1, "tappod", "pod", "100.64.7.21", "02:00:00:00:07:21", "100.64.7.1")
    api = ConfigClient(api_server)
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0,
                             name=f"ctl-{sfx}", options=ControlOptions())
    agent = None
    try:
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"pa-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.7.0", "ip_prefix_len": 24}, "default_gateway": "100.64.7.1"}]}}]})
        vm1 = await api.create("virtual-machine", {"fq_name": [f"vm1-{sfx}"]})
        vmi1 = await make_vmi(api, vn, vm1, f"vmi1-{sfx}", "100.64.7.11", "02:00:00:00:07:11")
        vm3 = await api.create("virtual-machine", {"fq_name": [f"vm3-{sfx}"]})
        vmi3 = await make_vmi(api, vn, vm3, f"vmi3-{sfx}", "100.64.7.13", "02:00:00:00:07:13")
        # a pod the way kube-manager makes it: VM linked to the vRouter, VMI with annotations
        podvm = await api.create("virtual-machine", {"fq_name": [f"k8s__default__pod-{sfx}"]})
        podvmi = await make_vmi(api, vn, podvm, f"pod-{sfx}", "100.64.7.21", "02:00:00:00:07:21",
                                {"index": "0/1", "network": "default"})
        await api.create("virtual-router", {"fq_name": [GSC, f"pa-{sfx}"], "parent_type": "global-system-config",
                                            "virtual_router_ip_address": "198.18.3.1",
                                            "virtual_machine_refs": ref(podvm)})
        await ctl.start()
        opts = AgentOptions(f"pa-{sfx}", "198.18.3.1", "ul0", 1600, [("127.0.0.1", ctl.xmpp_port)], "127.0.0.31",
                            port_api=("127.0.0.1", 0), introspect=None, ports_dir=str(tmp_path / "ports"),
                            resync_interval=2.0)
        agent = AgentService(opts, lambda: LinuxDatapath(h1))
        await agent.start()
        base = f"http://127.0.0.1:{agent.port_api_port}"
        good = port_body(vmi1["uuid"], vm1, vn["uuid"], "tapa1", "100.64.7.11", "02:00:00:00:07:11")
        async with aiohttp.ClientSession() as http:
            async def call(method, path, body=None):
                async with http.request(method, base + path, json=body) as r:
                    return r.status, json.loads(await r.text())

            assert await call("POST", "/port", good) == (200, {})

            async def active():
                st, info = await call("GET", f"/port/{vmi1['uuid']}")
                return st == 200 and info["active"] == "Active"
            await until(active)
            await agent.wait_applied()
            assert await asyncio.to_thread(lab.ping, w1, "100.64.7.1")
            st, info = await call("GET", f"/port/{vmi1['uuid']}")
            assert (info["ip-address"], info["plen"], info["gateway"], info["mac-address"], info["vn-id"]) == \
                ("100.64.7.11", 24, "100.64.7.1", "02:00:00:00:07:11", vn["uuid"])

            # the VM poll: operational ports of the VM (also by VMI), 404 for others
            st, items = await call("GET", f"/vm/{vm1['uuid']}")
            assert st == 200 and [i["id"] for i in items] == [vmi1["uuid"]] and items[0]["ip-address"] == "100.64.7.11"
            assert (await call("GET", f"/vm/{vm1['uuid']}/{vmi1['uuid']}"))[0] == 200
            assert await call("GET", f"/vm/{vm1['uuid']}/{vmi3['uuid']}") == (404, NOT_FOUND)
            assert await call("GET", f"/vm/{uuid.uuid4()}") == (404, NOT_FOUND)

            # bad bodies: 500 naming the field; nothing is recorded (all or none)
            for change, field in (({"mac-address": "00:00:00:00:00:00"}, "mac-address"),
                                  ({"mac-address": "02:00:00:00:07"}, "mac-address"),
                                  ({"ip-address": "100.64.7.300"}, "ip-address"),
                                  ({"type": "0"}, "type"), ({"system-name": None}, "system-name"),
                                  ({"vn-id": "red"}, "vn-id")):
                bad = dict(good, id=str(uuid.uuid4()), **change)
                st, body = await call("POST", "/port", [bad])
                assert st == 500 and field in body["error"], (change, body)
            batch = [port_body(vmi3["uuid"], vm3, vn["uuid"], "tapa3", "100.64.7.13", "02:00:00:00:07:13"),
                     dict(good, id=str(uuid.uuid4()), **{"ip-address": "x"})]
            st, body = await call("POST", "/port", batch)
            assert st == 500 and "ip-address" in body["error"]
            assert await call("GET", f"/port/{vmi3['uuid']}") == (404, NOT_FOUND)
            async with http.post(base + "/port", data=b"{not json") as r:
                assert r.status == 500 and "invalid JSON" in (await r.json())["error"]
            # a vif name clash, also inside one batch
            clash = port_body(vmi3["uuid"], vm3, vn["uuid"], "tapa1", "100.64.7.13", "02:00:00:00:07:13")
            st, body = await call("POST", "/port", clash)
            assert st == 500 and "tapa1" in body["error"] and vmi1["uuid"] in body["error"]
            twice = [dict(clash, **{"system-name": "tapx"}), dict(good, id=str(uuid.uuid4()), **{"system-name": "tapx"})]
            st, body = await call("POST", "/port", twice)
            assert st == 500 and "tapx" in body["error"]

            # accepted but not operational, each saying why: an unknown network, a missing interface
            ghost_vm, ghost = {"uuid": str(uuid.uuid4()), "fq_name": ["ghost"]}, str(uuid.uuid4())
            unknown_vn = str(uuid.uuid4())
            assert await call("POST", "/port", port_body(ghost, ghost_vm, unknown_vn, "tapg", "100.64.7.99",
                                                         "02:00:00:00:07:99")) == (200, {})
            assert await call("POST", "/port", port_body(vmi3["uuid"], vm3, vn["uuid"], "tapa3", "100.64.7.13",
                                                         "02:00:00:00:07:13")) == (200, {})

            async def explained():
                _, g = await call("GET", f"/port/{ghost}")
                _, m = await call("GET", f"/port/{vmi3['uuid']}")
                return f"virtual network {unknown_vn} unknown" in g["active"] and "interface tapa3" in m["active"]
            await until(explained)
            assert await call("GET", f"/vm/{ghost_vm['uuid']}") == (404, NOT_FOUND)
            st, ports = await call("GET", "/ports")
            assert st == 200 and {p["id"]: p["active"] for p in ports}[vmi1["uuid"]] == "Active"
            assert {p["id"] for p in ports} == {vmi1["uuid"], vmi3["uuid"], ghost}

            # unknown ports and paths
            assert await call("GET", f"/port/{uuid.uuid4()}") == (404, NOT_FOUND)
            assert await call("DELETE", f"/port/{uuid.uuid4()}") == (200, {})
            assert await call("GET", "/port/NOT-A-UUID") == (404, {"error": "Unknown Request"})
            assert await call("GET", "/nothing-here") == (404, {"error": "Unknown Request"})

            # the CNI: /vm-cfg answers once the pod's config is here, POST /vm binds it, /vm gives the IP
            podname = podvm["fq_name"][-1]
            assert await call("GET", "/vm-cfg/k8s__default__nobody") == (404, NOT_FOUND)

            async def cfg_known():
                return (await call("GET", f"/vm-cfg/{podname}"))[0] == 200
            await until(cfg_known)
            st, cfg = await call("GET", f"/vm-cfg/{podname}")
            assert cfg == [{"id": podvmi["uuid"], "vm-uuid": podvm["uuid"], "vn-id": vn["uuid"],
                            "vn-name": ":".join(vn["fq_name"]), "mac-address": "02:00:00:00:07:21",
                            "sub-interface": False, "vlan-id": -1,
                            "annotations": ["{index:0/1}", "{network:default}"]}]
            assert await call("GET", f"/vm/{podvm['uuid']}") == (404, NOT_FOUND)  # not bound yet
            st, body = await call("POST", "/vm", {"vm-uuid": podvm["uuid"], "vm-name": podname})
            assert st == 500 and "host-ifname" in body["error"]
            binding = {"time": "now", "vm-id": "c0ffee", "vm-uuid": podvm["uuid"], "vm-name": podname,
                       "host-ifname": "tappod", "vm-ifname": "eth0", "vm-namespace": "/proc/1/ns/net",
                       "vn-uuid": vn["uuid"], "vmi-uuid": podvmi["uuid"]}
            assert await call("POST", "/vm", binding) == (200, {})

            async def pod_up():
                st, items = await call("GET", f"/vm/{podvm['uuid']}")
                return st == 200 and items[0]["ip-address"] == "100.64.7.21"
            await until(pod_up)
            st, items = await call("GET", f"/vm/{podvm['uuid']}")
            assert (items[0]["plen"], items[0]["gateway"], items[0]["mac-address"]) == (24, "100.64.7.1", "02:00:00:00:07:21")
            assert (tmp_path / "ports" / "vm" / podname / podvmi["uuid"]).is_file()
            await agent.wait_applied()
            assert await asyncio.to_thread(lab.ping, pod, "100.64.7.1")
            assert await asyncio.to_thread(lab.ping, w1, "100.64.7.21")  # both local ports, one VRF

        # a restarted agent replays ports and bindings from disk
        await agent.stop()
        agent = AgentService(opts, lambda: LinuxDatapath(h1))
        await agent.start()
        assert set(agent.records) == {vmi1["uuid"], vmi3["uuid"], ghost, podvmi["uuid"]}
        base = f"http://127.0.0.1:{agent.port_api_port}"
        async with aiohttp.ClientSession() as http:
            async with http.delete(f"{base}/vm/{podvm['uuid']}") as r:
                assert r.status == 200
            async with http.get(f"{base}/vm/{podvm['uuid']}") as r:
                assert r.status == 404
        assert not (tmp_path / "ports" / "vm" / podname).exists()
        await agent.wait_applied()
        assert await asyncio.to_thread(lab.ping, w1, "100.64.7.1")  # the other ports keep working
    finally:
        if agent is not None:
            await agent.stop()
        await ctl.stop()
        await api.close()


def test_agent_with_a_missing_netns_exits_with_a_clear_error(tmp_path):
    missing = f"fl5-{os.getpid()}-missing"
    r = subprocess.run([sys.executable, "-m", "filament.agent", "--name", "x", "--vtep", "198.18.3.9",
                        "--underlay-dev", "ul0", "--port-api", "127.0.0.1:0", "--introspect", "127.0.0.1:0",
                        "--ports-dir", str(tmp_path), "--netns", missing], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"network namespace '{missing}' does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(f"/run/netns/{missing}")
