"""Fixtures for the config API integration tests: unique names and cleanup."""

from __future__ import annotations

import uuid as uuidlib

import pytest
import requests



class Cleanup:
    """Deletes what a test made, newest first, over plain HTTP (404 is fine)."""

    def __init__(self, url: str):
        self.url = url
        self.made: list[tuple[str, str]] = []

    def add(self, type_: str, uuid: str) -> str:
        self.made.append((type_.replace("_", "-"), uuid))
        return uuid

    def run(self) -> None:
        for type_, uuid in reversed(self.made):
            requests.delete(f"{self.url}/{type_}/{uuid}", timeout=10)


@pytest.fixture
def uid() -> str:
    """A short unique suffix for names (the session server is shared)."""
    return uuidlib.uuid4().hex[:10]


@pytest.fixture
def cleanup(api_server):
    c = Cleanup(api_server)
    yield c
    c.run()


@pytest.fixture
def project(vnc, uid, cleanup):
    """A fresh project under default-domain (a vnc_api object, read back)."""
    from vnc_api import vnc_api as v
    p = v.Project(f"proj-{uid}", v.Domain())
    cleanup.add("project", vnc.project_create(p))
    return vnc.project_read(id=p.uuid)


def pytest_collection_modifyitems(items):
    """A hung request (vnc_api retries a dead server for minutes) fails one test, fast."""
    for item in items:
        if "integration/config/" in str(item.fspath) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(60))
