"""The original's XMPP dialect between control node and vRouter agent, as pure codecs.

``framing`` cuts the byte stream into header / keepalive / stanza events,
``stanza`` turns stanzas into typed messages (``model``) and back, ``items``
encodes route entries per family and ``config`` the IFMap-style config iqs.
"""

from filament.wire.xmpp.framing import (
    KEEPALIVE,
    STREAM_CLOSE,
    Framer,
    Keepalive,
    Stanza,
    StreamClosed,
    StreamHeader,
    XmppFrameError,
    decode_header,
    encode_header,
)
from filament.wire.xmpp.model import *  # noqa: F401,F403
from filament.wire.xmpp.stanza import (
    channel_of,
    decode_stanza,
    encode_agent_eor,
    encode_cn_eor,
    encode_publish,
    encode_route_update,
    encode_subscribe,
    encode_unsubscribe,
)
from filament.wire.xmpp.config import encode_config
from filament.wire.xmpp.items import decode_entry, encode_entry, item_id, publish_node

__all__ = [
    "KEEPALIVE", "STREAM_CLOSE", "Framer", "Keepalive", "Stanza", "StreamClosed", "StreamHeader",
    "XmppFrameError", "decode_header", "encode_header", "channel_of", "decode_stanza",
    "encode_agent_eor", "encode_cn_eor", "encode_publish", "encode_route_update",
    "encode_subscribe", "encode_unsubscribe", "encode_config", "decode_entry", "encode_entry",
    "item_id", "publish_node",
]
