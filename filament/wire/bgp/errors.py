"""BGP decode errors carry the RFC 4271 NOTIFICATION code, subcode and data."""

from __future__ import annotations

# NOTIFICATION error codes (RFC 4271 §4.5, RFC 4486, RFC 7313).
MESSAGE_HEADER = 1
OPEN_MESSAGE = 2
UPDATE_MESSAGE = 3
HOLD_TIMER_EXPIRED = 4
FSM_ERROR = 5
CEASE = 6
ROUTE_REFRESH_MESSAGE = 7

# Message header subcodes.
CONNECTION_NOT_SYNCHRONIZED = 1
BAD_MESSAGE_LENGTH = 2
BAD_MESSAGE_TYPE = 3

# OPEN subcodes.
UNSUPPORTED_VERSION = 1
BAD_PEER_AS = 2
BAD_BGP_IDENTIFIER = 3
UNSUPPORTED_OPTIONAL_PARAMETER = 4
UNACCEPTABLE_HOLD_TIME = 6
UNSUPPORTED_CAPABILITY = 7

# UPDATE subcodes.
MALFORMED_ATTRIBUTE_LIST = 1
UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
MISSING_WELL_KNOWN_ATTRIBUTE = 3
ATTRIBUTE_FLAGS_ERROR = 4
ATTRIBUTE_LENGTH_ERROR = 5
INVALID_ORIGIN = 6
INVALID_NEXT_HOP = 8
OPTIONAL_ATTRIBUTE_ERROR = 9
INVALID_NETWORK_FIELD = 10
MALFORMED_AS_PATH = 11

# CEASE subcodes (RFC 4486).
MAX_PREFIXES = 1
ADMIN_SHUTDOWN = 2
PEER_DECONFIGURED = 3
ADMIN_RESET = 4
CONNECTION_REJECTED = 5
OTHER_CONFIG_CHANGE = 6
CONNECTION_COLLISION = 7
OUT_OF_RESOURCES = 8

# ROUTE-REFRESH subcodes (RFC 7313).
INVALID_MESSAGE_LENGTH = 1


class BgpError(Exception):
    """A protocol error: the NOTIFICATION to send is (code, subcode, data)."""

    def __init__(self, code: int, subcode: int = 0, data: bytes = b"", reason: str = ""):
        self.code = code
        self.subcode = subcode
        self.data = bytes(data)
        self.reason = reason
        super().__init__(f"BGP error {code}/{subcode}" + (f": {reason}" if reason else ""))


class TreatAsWithdraw(BgpError):
    """An attribute error that RFC 7606 handles by withdrawing the UPDATE's routes."""


class AttributeDiscard(BgpError):
    """An attribute error that RFC 7606 handles by dropping the attribute."""


def need(data: bytes | memoryview, n: int, code: int = UPDATE_MESSAGE, subcode: int = MALFORMED_ATTRIBUTE_LIST, what: str = "") -> None:
    """Raise unless ``data`` holds at least ``n`` bytes."""
    if len(data) < n:
        raise BgpError(code, subcode, reason=f"truncated {what}".strip())
