"""`filament demo` as a user runs it: the ping table, then nothing left behind; `--keep`
against a running controller, then `--down`; a clear error when not root."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]


def demo(*args, user: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "filament", "demo", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "COLUMNS": "120"})


def namespaces(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{prefix}-")]


def processes(prefix: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if prefix.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    out.append(int(pid))
            except OSError:
                pass
    return out


@pytest.fixture
def prefix():
    p = f"fd{os.getpid() % 100000}{uuid.uuid4().hex[:3]}"
    yield p
    # a failed test must not leave namespaces behind either
    for ns in namespaces(p):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_demo_prints_the_pings_and_cleans_up(prefix, tmp_path):
    r = demo("--prefix", prefix, "--state-dir", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 7, r.stdout
    assert sum("reply" in row and "no reply" not in row and " ms" in row for row in rows) == 5, r.stdout
    assert sum("isolated, as expected" in row for row in rows) == 2, r.stdout
    assert "red1" in rows[0] and "red2 10.1.1.12" in rows[0]
    assert f"demo {prefix}: cleaned up" in r.stdout
    assert namespaces(prefix) == [] and processes(prefix) == []
    assert not (tmp_path / prefix).exists() and not (tmp_path / f"{prefix}.json").exists()


def test_demo_keep_on_a_running_controller_then_down(prefix, tmp_path, api_process):
    xmpp = free_port()
    up = api_process(str(tmp_path / "up"), command="up", extra=[
        "--xmpp-port", str(xmpp), "--introspect-port", str(free_port()), "--bgp-port", "0"])
    api = up.start()
    try:
        state_dir = tmp_path / "state"
        r = demo("--prefix", prefix, "--state-dir", str(state_dir), "--api", api, "--xmpp", f"127.0.0.1:{xmpp}", "--keep")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"filament demo --down --prefix {prefix} --state-dir {state_dir}" in r.stdout
        state = json.loads((state_dir / f"{prefix}.json").read_text())
        assert len(namespaces(prefix)) == 6 and all(os.path.exists(f"/proc/{p}") for p in state["pids"])
        assert not state["own_controller"] and len(state["pids"]) == 2  # the two agents
        vns = requests.get(f"{api}/virtual-networks", timeout=10).json()["virtual-networks"]
        assert {f"{prefix}-red", f"{prefix}-blue"} <= {v["fq_name"][-1] for v in vns}
        # still running: the operator views answer, the workloads still ping
        agent = next(iter(state["agents"].values()))
        vif = subprocess.run([sys.executable, "-m", "filament", "vif", "--list", "--agent", agent],
                             capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert "OS: tapred1" in vif.stdout and "OS: tapblue1" in vif.stdout, vif.stderr
        ping = subprocess.run(["ip", "netns", "exec", f"{prefix}-red1", "ping", "-c", "1", "-W", "2", "10.1.1.12"],
                              capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout
        again = demo("--prefix", prefix, "--state-dir", str(state_dir))
        assert again.returncode == 1 and "--down" in again.stderr and "Traceback" not in again.stderr

        down = demo("--down", "--prefix", prefix, "--state-dir", str(state_dir))
        assert down.returncode == 0, down.stderr
        assert namespaces(prefix) == [] and processes(prefix) == []
        assert not any(os.path.exists(f"/proc/{p}") for p in state["pids"])
        vns = requests.get(f"{api}/virtual-networks", timeout=10).json()["virtual-networks"]
        assert not {f"{prefix}-red", f"{prefix}-blue"} & {v["fq_name"][-1] for v in vns}
        vrs = requests.get(f"{api}/virtual-routers", timeout=10).json()["virtual-routers"]
        assert not any(v["fq_name"][-1].startswith(prefix) for v in vrs)
        gone = demo("--down", "--prefix", prefix, "--state-dir", str(state_dir))
        assert gone.returncode == 1 and "no kept demo" in gone.stderr and "Traceback" not in gone.stderr
    finally:
        demo("--down", "--prefix", prefix, "--state-dir", str(tmp_path / "state"))  # no-op once removed
        up.stop()


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv")
def test_demo_needs_root(prefix, tmp_path):
    r = demo("--prefix", prefix, "--state-dir", str(tmp_path), user="65534")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "needs root" in r.stderr and "Traceback" not in r.stderr
    assert namespaces(prefix) == []
