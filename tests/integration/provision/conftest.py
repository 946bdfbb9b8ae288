"""A real libvirtd (QEMU, TCG) that the tests start themselves and stop by PID.

libvirtd and virtlogd run inside a network namespace of their own, so the bridges,
iptables rules and dnsmasq they create never reach the host's namespace. The
/dev/kvm permission fix from machine-recipes §5 (without it each new domain start
costs a ~50 s QEMU capabilities re-probe) is applied for the session and undone after.
"""

from __future__ import annotations

import grp
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

URI = "qemu:///system"
IPXE_ISO = "/usr/lib/ipxe/ipxe.iso"
START_DEADLINE = 90.0


def _need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t) and not os.path.exists(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (bash scripts/setup.sh installs them)")


def _poll(cond, deadline: float, what: str, proc: subprocess.Popen | None = None):
    end = time.monotonic() + deadline
    while True:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        if time.monotonic() > end:
            raise TimeoutError(f"{what} not ready within {deadline:.0f}s")
        time.sleep(0.1)


def _connect():
    import libvirt

    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError:
        return None


@pytest.fixture(scope="session")
def libvirtd(tmp_path_factory):
    """Yield a libvirt connection to a libvirtd this fixture started."""
    if os.geteuid() != 0:
        pytest.skip("libvirtd tests need root")
    _need("libvirtd", "virtlogd", "qemu-img", "qemu-system-x86_64", "dnsmasq", "ip", IPXE_ISO)
    pytest.importorskip("libvirt")
    if os.path.exists("/run/libvirt/libvirt-sock") and _connect() is not None:
        pytest.fail("a libvirtd is already running on this machine; stop it first")
    logs = tmp_path_factory.mktemp("libvirtd")
    netns = f"fzvirsh-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    kvm = None
    if os.path.exists("/dev/kvm"):
        st = os.stat("/dev/kvm")
        kvm = (st.st_mode & 0o777, st.st_gid)
        try:
            os.chown("/dev/kvm", -1, grp.getgrnam("kvm").gr_gid)
            os.chmod("/dev/kvm", 0o660)
        except KeyError:
            pass
    procs: list[subprocess.Popen] = []
    conn = None
    try:
        for daemon in ("virtlogd", "libvirtd"):
            log = open(logs / f"{daemon}.log", "wb")
            procs.append(subprocess.Popen(["ip", "netns", "exec", netns, daemon],
                                          stdout=log, stderr=subprocess.STDOUT))
            log.close()
        conn = _poll(_connect, START_DEADLINE, "libvirtd", procs[-1])
        yield conn
    finally:
        if conn is not None:
            _sweep(conn)
            conn.close()
        for p in reversed(procs):  # stop by PID: `ip netns exec` execs the daemon itself
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", netns], check=False)
        if kvm is not None:
            os.chown("/dev/kvm", -1, kvm[1])
            os.chmod("/dev/kvm", kvm[0])


def _sweep(conn) -> None:
    """Whatever a failed test left: every domain and network but `default`."""
    for dom in conn.listAllDomains(0):
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    for net in conn.listAllNetworks(0):
        if net.name() != "default":
            if net.isActive():
                net.destroy()
            net.undefine()


@pytest.fixture(scope="session")
def tiny_image(tmp_path_factory):
    """A 2 MB qcow2 that boots iPXE from disk: it DHCPs on each NIC in turn, which
    gives the provisioner real leases without booting an OS."""
    out = tmp_path_factory.mktemp("image") / "tiny.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", IPXE_ISO, str(out)], check=True)
    return out


@pytest.fixture
def disk_pool():
    """A pool directory QEMU (user libvirt-qemu) can traverse, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="fzvirsh-pool-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
