"""The control socket (docs/control-protocol.md): the server inside every tuiman, `tuiman ctl`, and
the remote client.

Import-light on purpose: `tuiman ctl` and the clients never pull in Textual or Rich.
"""
