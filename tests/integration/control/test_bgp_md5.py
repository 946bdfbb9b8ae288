"""TCP-MD5 (RFC 2385) with a real gobgpd configured with a password: the key from the
bgp-router's auth_data signs our listener and dialer, the session establishes; with a
wrong key the kernel drops the segments and it never does."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from filament.control.bgp_md5 import md5sig
from tests.integration.control.test_bgp_control_node import (  # noqa: F401  (fixtures)
    DEFAULT_FAMILIES, THEIRS, GoBgp, bgp_routers, control, eventually, _neighbor,
)

pytestmark = [pytest.mark.integration]


def with_key(objects: dict, key: str) -> dict:
    gob = objects["bgp-router"]["u-gobgp"]["bgp_router_parameters"]
    gob["auth_data"] = {"key_type": "md5", "key_items": [{"key_id": 0, "key": key}]}
    return objects


def test_md5sig_layout():
    raw = md5sig("127.0.0.2", "secret")
    assert len(raw) == 128 + 8 + 80
    assert raw[2:8] == bytes([0, 0, 127, 0, 0, 2]) and raw[130:132] == (6).to_bytes(2, "little") and raw[136:142] == b"secret"
    with pytest.raises(ValueError):
        md5sig("127.0.0.2", "k" * 81)


@pytest.mark.parametrize("our_key, established", [("s3cret-md5", True), ("wrong", False)], ids=["right", "wrong"])
async def test_gobgp_with_password(control, our_key, established):
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-md5-") as d:
        g = GoBgp(Path(d), control.bgp_port, neighbor_extra=DEFAULT_FAMILIES)
        toml = g.tmp / "gobgpd.toml"
        g.stop()  # rewrite the neighbor with a password, then run it
        toml.write_text(toml.read_text().replace("    peer-as = 64512\n", '    peer-as = 64512\n    auth-password = "s3cret-md5"\n', 1))
        assert "auth-password" in toml.read_text()
        g.start()
        try:
            await control.apply_bgp_config(with_key(bgp_routers(g.port), our_key))
            sess = control.bgp.speaker.sessions[THEIRS]
            assert sess.config.md5_key == our_key
            if established:
                await eventually(lambda: "BGP state = ESTABLISHED" in _neighbor(g), what="gobgp to establish with MD5")
                assert sess.established
            else:
                # gobgp retries every second; over several attempts nothing gets through
                for _ in range(40):
                    assert not sess.established and "BGP state = ESTABLISHED" not in _neighbor(g)
                    await asyncio.sleep(0.1)
                assert sess.stats.rx["open"] == 0
        finally:
            g.stop()
