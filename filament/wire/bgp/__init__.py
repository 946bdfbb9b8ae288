"""Pure BGP codecs (RFC 4271, 4760, 6793, 4364, 4659, 7432, 9136, 4684, 4724, 7313, 7606).

Import this package to register every message, attribute, capability and NLRI codec.
``decode_message(bytes, ctx)`` / ``encode_message(msg, ctx)`` are the entry points;
every decode error is a ``BgpError`` carrying the NOTIFICATION (code, subcode, data).
"""

from filament.wire.bgp.errors import AttributeDiscard, BgpError, TreatAsWithdraw  # noqa: F401
from filament.wire.bgp.common import (  # noqa: F401
    DEFAULT_CONTEXT, EVPN, IPV4_UNICAST, IPV4_VPN, IPV6_UNICAST, IPV6_VPN, RTC, Context, Family, RouteDistinguisher,
)
from filament.wire.bgp import nlri as _nlri  # noqa: F401  (registers NLRI codecs)
from filament.wire.bgp import attr as _attr  # noqa: F401  (registers attributes)
from filament.wire.bgp.message import decode_message, encode_message, split_messages  # noqa: F401
from filament.wire.bgp.keepalive import Keepalive  # noqa: F401
from filament.wire.bgp.notification import Notification  # noqa: F401
from filament.wire.bgp.open import Open  # noqa: F401
from filament.wire.bgp.route_refresh import RouteRefresh  # noqa: F401
from filament.wire.bgp.update import Update  # noqa: F401

__all__ = [
    "AttributeDiscard", "BgpError", "TreatAsWithdraw", "DEFAULT_CONTEXT", "EVPN", "IPV4_UNICAST", "IPV4_VPN",
    "IPV6_UNICAST", "IPV6_VPN", "RTC", "Context", "Family", "RouteDistinguisher", "decode_message", "encode_message",
    "split_messages", "Keepalive", "Notification", "Open", "RouteRefresh", "Update",
]
