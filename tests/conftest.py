"""Shared fixtures: real config API processes on free ports."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_URL_RE = re.compile(r"config API on (http://[\d.]+:\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiProcess:
    """`filament api` as a real process on a free port with its own data dir."""

    def __init__(self, data_dir: str, *, extra: list[str] | None = None, command: str = "api"):
        self.data_dir = data_dir
        self.extra = extra or []
        self.command = command
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> str:
        cmd = [sys.executable, "-m", "filament", self.command, "--listen", "127.0.0.1",
               "--api-port", "0", "--data-dir", self.data_dir, "--log-level", "WARNING",
               *self.extra]
        os.makedirs(self.data_dir, exist_ok=True)
        # Output goes to a file, never a pipe: a pipe nobody drains blocks the server
        # as soon as it has logged 64 KiB.
        self.log_path = os.path.join(self.data_dir, f"{self.command}.log")
        log = open(self.log_path, "ab")
        start_at = log.tell()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start_at)
                text = f.read().decode(errors="replace")
            m = _URL_RE.search(text)
            if m:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("config API did not start:\n" + text)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def api_server():
    """Base URL of a config API process shared by the session (embedded SQLite store)."""
    d = tempfile.mkdtemp(prefix="filament-api-")
    p = ApiProcess(d)
    url = p.start()
    yield url
    p.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def api_process(tmp_path):
    """A factory of config API processes for one test (stopped afterwards)."""
    made: list[ApiProcess] = []

    def make(data_dir: str | None = None, **kw) -> ApiProcess:
        p = ApiProcess(data_dir or str(tmp_path / f"data{len(made)}"), **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


@pytest.fixture
def vnc(api_server):
    """The real vnc_api client (contrail-api-client) talking to the session server."""
    from vnc_api import vnc_api
    host, port = api_server.rsplit("//", 1)[1].split(":")
    return vnc_api.VncApi(api_server_host=host, api_server_port=int(port), auth_type="noauth")


os.environ.setdefault("PYTHONUNBUFFERED", "1")
