"""The composition roots: the modules that build a running tuiman out of its parts.

`run` starts an instance (watchdog, config, control socket, then the headless front or the
full-screen session), `session` puts the arbiter and the Textual app on one loop, and `attach`
opens the app on a running instance through its control socket. `tuiman.cli` parses the command
line and imports these lazily; only `session` and `attach` import Textual, and only when run.
"""
