"""Crash safety: kill -9 the config API mid-stream of writes, restart it on the same
data dir, and check that every acknowledged write is there and consistent."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}
PROJ = ["default-domain", "crash"]
WRITERS = 4
ACKS_BEFORE_KILL = 80


def _post(s, url, type_, body):
    r = s.post(f"{url}/{type_}s", data=json.dumps({type_: body}), headers=JSON, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[type_]


class Acks:
    """Creates that got a 200, by type: {type: {uuid: extra}}."""

    def __init__(self):
        self.lock = threading.Condition()
        self.by_type: dict[str, dict[str, object]] = {
            "virtual-network": {}, "virtual-machine-interface": {}, "instance-ip": {}}

    def add(self, type_, uuid, extra=None):
        with self.lock:
            self.by_type[type_][uuid] = extra
            self.lock.notify_all()

    def total(self):
        return sum(len(v) for v in self.by_type.values())

    def wait_for(self, n, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.total() < n:
                left = deadline - time.monotonic()
                assert left > 0, f"only {self.total()} acknowledged writes in {timeout}s"
                self.lock.wait(left)


def _writer(url, wid, shared_vn, acks: Acks, stop: threading.Event):
    s = requests.Session()
    i = 0
    try:
        while not stop.is_set():
            i += 1
            vn = _post(s, url, "virtual-network",
                       {"fq_name": PROJ + [f"w{wid}-vn{i}"], "parent_type": "project"})
            acks.add("virtual-network", vn["uuid"])
            vmi = _post(s, url, "virtual-machine-interface", {
                "fq_name": PROJ + [f"w{wid}-vmi{i}"], "parent_type": "project",
                "virtual_network_refs": [{"to": shared_vn}]})
            acks.add("virtual-machine-interface", vmi["uuid"])
            iip = _post(s, url, "instance-ip", {
                "fq_name": [f"w{wid}-iip{i}"], "virtual_network_refs": [{"to": shared_vn}],
                "virtual_machine_interface_refs": [{"uuid": vmi["uuid"]}]})
            got = s.get(f"{url}/instance-ip/{iip['uuid']}", timeout=10).json()["instance-ip"]
            acks.add("instance-ip", iip["uuid"], got["instance_ip_address"])
    except (requests.ConnectionError, requests.Timeout, AssertionError, KeyError, ValueError):
        pass     # the server was killed under us


def _get(url, path, **params):
    r = requests.get(url + path, params=params, timeout=10)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def test_kill_9_mid_stream_keeps_acknowledged_writes(api_process):
    p = api_process()
    url = p.start()
    s = requests.Session()
    _post(s, url, "project", {"fq_name": PROJ, "parent_type": "domain"})
    _post(s, url, "network-ipam", {"fq_name": PROJ + ["ipam"], "parent_type": "project"})
    shared = PROJ + ["shared"]
    _post(s, url, "virtual-network", {
        "fq_name": shared, "parent_type": "project",
        "network_ipam_refs": [{"to": PROJ + ["ipam"], "attr": {"ipam_subnets": [
            {"subnet": {"ip_prefix": "10.50.0.0", "ip_prefix_len": 16}}]}}]})

    acks, stop = Acks(), threading.Event()
    threads = [threading.Thread(target=_writer, args=(url, w, shared, acks, stop), daemon=True)
               for w in range(WRITERS)]
    for t in threads:
        t.start()
    acks.wait_for(ACKS_BEFORE_KILL, timeout=60)
    p.kill()                                         # SIGKILL while writers are mid-request
    stop.set()
    for t in threads:
        t.join(15)
        assert not t.is_alive()

    p2 = api_process(data_dir=p.data_dir)
    url = p2.start()

    # every acknowledged object is there
    for type_, objs in acks.by_type.items():
        for uuid in objs:
            assert requests.get(f"{url}/{type_}/{uuid}", timeout=10).status_code == 200, \
                (type_, uuid)

    # every VN (acknowledged or not) is whole: its default routing instance and a unique id
    vns = [x["virtual-network"] for x in _get(url, "/virtual-networks", detail="True",
                                              fields="routing_instances")["virtual-networks"]]
    ids = [vn["virtual_network_network_id"] for vn in vns]
    assert len(ids) == len(set(ids))
    default_ri = {}
    for vn in vns:
        ris = [r["routing-instance"] for r in _get(url, "/routing-instances", parent_id=vn["uuid"],
                                                     detail="True")["routing-instances"]]
        ris = [r for r in ris if r.get("routing_instance_is_default")]
        fq = vn["fq_name"] + [vn["fq_name"][-1]]
        assert [r["fq_name"] for r in ris] == [fq], vn["fq_name"]
        default_ri[vn["uuid"]] = ris[0]["uuid"]

    # every VMI has its VN and that VN's default RI
    vmis = [x["virtual-machine-interface"] for x in _get(
        url, "/virtual-machine-interfaces", detail="True")["virtual-machine-interfaces"]]
    assert set(acks.by_type["virtual-machine-interface"]) <= {v["uuid"] for v in vmis}
    for vmi in vmis:
        (vref,) = vmi["virtual_network_refs"]
        assert [r["uuid"] for r in vmi["routing_instance_refs"]] == [default_ri[vref["uuid"]]]
        assert vmi["virtual_machine_interface_mac_addresses"]["mac_address"]

    # instance-ips keep their addresses; no address is held twice
    iips = [x["instance-ip"] for x in _get(url, "/instance-ips", detail="True")["instance-ips"]]
    by_uuid = {x["uuid"]: x["instance_ip_address"] for x in iips}
    for uuid, addr in acks.by_type["instance-ip"].items():
        assert by_uuid[uuid] == addr
    held = list(by_uuid.values())
    assert len(held) == len(set(held))
    assert all(a.startswith("10.50.") for a in held)

    # new allocations after the restart do not collide, and new VN ids are fresh
    for i in range(5):
        iip = _post(s, url, "instance-ip", {"fq_name": [f"after-{i}"],
                                             "virtual_network_refs": [{"to": shared}]})
        addr = _get(url, f"/instance-ip/{iip['uuid']}")["instance-ip"]["instance_ip_address"]
        assert addr not in held
        held.append(addr)
    vn = _post(s, url, "virtual-network", {"fq_name": PROJ + ["after"], "parent_type": "project"})
    new_id = _get(url, f"/virtual-network/{vn['uuid']}")["virtual-network"][
        "virtual_network_network_id"]
    assert new_id not in ids
