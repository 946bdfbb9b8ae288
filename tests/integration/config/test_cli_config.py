"""`filament config` against a real API process."""

import subprocess
import sys


def run(api, *args):
    return subprocess.run([sys.executable, "-m", "filament", "config", "--api", api, *args],
                          capture_output=True, text=True, timeout=60)


def test_ls_cat_rm(api_server):
    r = run(api_server, "ls", "virtual-network")
    assert r.returncode == 0 and "default-domain:default-project:ip-fabric" in r.stdout
    r = run(api_server, "cat", "network-ipam", "default-domain:default-project:default-network-ipam")
    assert r.returncode == 0 and '"default-network-ipam"' in r.stdout


def test_errors_are_one_line(api_server):
    r = run(api_server, "cat", "virtual-network", "default-domain:nope:x")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "not found" in r.stderr
    r = run("http://127.0.0.1:1", "ls", "virtual-network")
    assert r.returncode == 1 and "cannot reach" in r.stderr and "Traceback" not in r.stderr
