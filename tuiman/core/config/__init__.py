"""Configuration: the frozen model (`model`), TOML loading (`loader`, `watchers`, `hooks`),
validation helpers (`validate`) and `$(tuiman.*)`/`$VAR` expansion (`expand`).

Imports only the core's leaves (`events`, `states`, `secrets`); never `circus`, `processes` or
`supervision`. Hook modules are imported here, at load time, so a broken one is a config error.
"""
