"""The full-screen Textual UI of tuiman (docs/ui.md).

It talks to the core only through `tuiman.client.protocol.CoreClient` (typed commands in, bus
events out) and reads the core's leaf modules (`tuiman.core.events`, `states`); it never imports
the supervision code, the config loaders or `tuiman.control`. The composition roots that build an
instance and its UI are in `tuiman.launch`.
"""
