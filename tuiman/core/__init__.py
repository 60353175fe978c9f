"""The supervisor core: everything tuiman does, with no user interface.

Packages, from the bottom up; each imports only the layers below it:

- `events`, `states`, `secrets` (leaves) and `bus` (the typed event bus, on `events`);
- `config` — the frozen `Config` model, TOML reading, validation and `$(...)` expansion;
- `circus` — Circus INI files read and translated into the same model (imports `config`);
- `configfile` — picks the TOML or the Circus reader for a file;
- `processes` — child processes and the OS: spawning, output, stats, /proc, reaping, watchdog;
- `supervision` — the arbiter, its watchers, the restart policy, the hook runner, commands.

The core never imports textual, rich, `tuiman.ui`, `tuiman.control` or `tuiman.client`, and
nothing in it blocks the event loop. The rules are contracts in `pyproject.toml`
(`[tool.importlinter]`), checked by CI.
"""
