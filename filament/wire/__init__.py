"""Pure wire codecs shared by roles: ``xmpp`` (the original's control-node/agent dialect), ``bgp``."""
