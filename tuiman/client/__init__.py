"""The boundary between a front end (the Textual UI) and a tuiman instance.

`protocol` is the interface the UI holds: `CoreClient` (typed commands in) and `EventStream`
(bus events out), with the typed replies. It imports nothing but the core's leaf modules
(`tuiman.core.events`), so the UI never loads the supervisor through it. `wire` maps the typed
commands onto the command table's request and reply dicts. The two implementations:
`local.LocalClient` drives an in-process arbiter (it imports the supervision code), and
`remote.RemoteClient` drives an instance through its control socket (it imports
`tuiman.control`, never the supervisor). This package never imports Textual or Rich; importing it
imports none of its modules.
"""
