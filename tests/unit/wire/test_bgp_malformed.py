"""The malformed-message corpus: each case gets the RFC NOTIFICATION or RFC 7606 handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from filament.wire.bgp import BgpError, Update, decode_message

CORPUS = Path(__file__).parent / "bgp_corpus" / "malformed" / "cases.txt"
CASES = [ln.split() for ln in CORPUS.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("name,expected,hexstr", CASES, ids=[c[0] for c in CASES])
def test_malformed(name, expected, hexstr):
    raw = bytes.fromhex(hexstr)
    if "/" in expected:
        code, subcode = map(int, expected.split("/"))
        with pytest.raises(BgpError) as exc:
            decode_message(raw)
        assert (exc.value.code, exc.value.subcode) == (code, subcode), exc.value.reason
        return
    msg = decode_message(raw)
    assert isinstance(msg, Update)
    if expected == "withdraw":
        assert msg.treat_as_withdraw
        assert msg.announced() == []
        assert msg.withdrawals(), "the routes it carried must be withdrawn"
    else:
        assert expected == "discard"
        assert msg.discarded and not msg.treat_as_withdraw
        assert msg.announced()


def test_error_data_names_the_offending_attribute():
    raw = bytes.fromhex(next(c[2] for c in CASES if c[0] == "update-unknown-well-known-attribute"))
    with pytest.raises(BgpError) as exc:
        decode_message(raw)
    assert exc.value.data == bytes.fromhex("40fe0100")
