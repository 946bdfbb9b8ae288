"""NOTIFICATION (RFC 4271 §4.5); shutdown communication text per RFC 9003."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.common import Context
from filament.wire.bgp.errors import ADMIN_RESET, ADMIN_SHUTDOWN, CEASE
from filament.wire.bgp.message import NOTIFICATION, register

NAMES = {1: "Message Header Error", 2: "OPEN Message Error", 3: "UPDATE Message Error", 4: "Hold Timer Expired",
         5: "Finite State Machine Error", 6: "Cease", 7: "ROUTE-REFRESH Message Error"}


@register(NOTIFICATION, 21)
@dataclass(frozen=True, slots=True)
class Notification:
    code: int
    subcode: int = 0
    data: bytes = b""

    def __str__(self) -> str:
        text = f"{NAMES.get(self.code, self.code)}/{self.subcode}"
        msg = self.shutdown_message()
        return f"{text} ({msg})" if msg else text

    def shutdown_message(self) -> str:
        if self.code == CEASE and self.subcode in (ADMIN_SHUTDOWN, ADMIN_RESET) and self.data:
            n = self.data[0]
            return self.data[1 : 1 + n].decode("utf-8", "replace")
        return ""

    def encode_body(self, ctx: Context) -> bytes:
        return bytes([self.code, self.subcode]) + self.data

    @classmethod
    def decode_body(cls, body: bytes, ctx: Context) -> "Notification":
        return cls(body[0], body[1], bytes(body[2:]))
