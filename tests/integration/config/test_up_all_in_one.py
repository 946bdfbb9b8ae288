"""`filament up` runs every role in one process: API, compiler, control node, and an agent."""

import socket

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_up_with_agent_model_datapath(api_process, tmp_path):
    introspect, agent_introspect = free_port(), free_port()
    p = api_process(command="up", extra=[
        "--xmpp-port", "0", "--introspect-port", str(introspect), "--bgp-port", "0",
        "--with-agent", "--agent-name", "up-test", "--agent-vtep", "198.18.9.1",
        "--agent-underlay-dev", "lo", "--agent-datapath", "model",
        "--port-api-port", str(free_port()), "--agent-introspect-port", str(agent_introspect)])
    url = p.start()
    vn = requests.post(f"{url}/virtual-networks", json={"virtual-network": {
        "fq_name": ["default-domain", "default-project", "up-vn"], "parent_type": "project"}},
        timeout=10)
    assert vn.status_code == 200
    rev = int(vn.headers["X-Filament-Revision"])
    got = requests.get(f"{url}/filament/applied", params={
        "role": "compiler", "revision": rev, "timeout": 20}, timeout=30)
    assert got.status_code == 200, got.text
    ri = requests.get(f"{url}/routing-instances", params={
        "parent_id": vn.json()["virtual-network"]["uuid"], "detail": "True"}, timeout=10).json()
    assert ri["routing-instances"][0]["routing-instance"]["route_target_refs"]
    status = requests.get(f"http://127.0.0.1:{agent_introspect}/Snh_AgentStatus", timeout=10).json()
    assert status["name"] == "up-test"
    assert any(s["up"] for s in status["sessions"])
