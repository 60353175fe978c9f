"""Supervision: the arbiter and its watchers (lifecycle, slots, respawn, the stop ladder,
reaping order), the restart policy (`restart`), the hook runner (`hooks`) and the objects hooks
see (`facade`), and the table of commands every front end uses (`commands`).

The top of the core: may import every other core package, and nothing outside the core.
"""
