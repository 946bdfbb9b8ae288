"""The control node: per-instance routing tables, RT import/export and RT-constraint,
best path and ECMP, XMPP sessions to agents (routes + config), introspect.

See docs/design/control.md.
"""
