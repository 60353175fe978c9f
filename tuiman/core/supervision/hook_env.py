"""The environment a watcher spawns with, as hooks may change it (docs/hooks.md).

Circus hands hooks the live watcher, so `watcher.env["X"] = "1"` in `before_start` or
`before_spawn` reaches the following spawns. tuiman's config is frozen; what hooks change is
kept here, on the watcher, as changes over the config's environment (a deleted name maps to
None), and laid over it at each spawn.

Hooks write from their own threads while the loop reads at a spawn: every access takes a copy
with a single C-level `dict()` call, which the GIL makes atomic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, MutableMapping

from tuiman.core.config.model import WatcherConfig

EnvChanges = dict[str, str | None]  # name -> new value, or None: removed


def effective_env(base: Mapping[str, str], changes: EnvChanges) -> dict[str, str]:
    """`base` with the changes laid over it."""
    merged = dict(base)
    for name, value in dict(changes).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def config_with_env(config: WatcherConfig, changes: EnvChanges) -> WatcherConfig:
    """The config a spawn uses: unchanged (the common case, no copy) or with the hooks' env."""
    if not changes:
        return config
    return dataclasses.replace(config, env=effective_env(config.env, changes))


class HookEnv(MutableMapping[str, str]):
    """`watcher.env` in a hook: reads the current environment, writes go to the watcher.

    Values must be strings (a child's environment holds nothing else): anything else raises
    TypeError into the hook, naming the variable.
    """

    def __init__(
        self,
        base: Callable[[], Mapping[str, str]],
        changes: EnvChanges,
        writable: Callable[[], bool],
        on_write: Callable[[str, str], None] | None = None,
    ) -> None:
        self._base = base
        self._changes = changes
        self._writable = writable
        self._on_write = on_write  # told each (name, value) written, before it takes effect

    def _current(self) -> dict[str, str]:
        return effective_env(self._base(), self._changes)

    def __getitem__(self, name: str) -> str:
        return self._current()[name]

    def __setitem__(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"watcher.env[{name!r}]: names and values must be str, not {type(value).__name__}"
            )
        if self._writable():
            self._told(name, value)
            self._changes[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self._current():
            raise KeyError(name)
        if self._writable():
            self._changes[name] = None

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return repr(self._current())

    def replace_all(self, new_env: Mapping[str, str]) -> None:
        """`watcher.env = {...}`: the environment becomes exactly `new_env`."""
        checked = dict(new_env)
        for name, value in checked.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"watcher.env[{name!r}]: names and values must be str")
        if not self._writable():
            return
        removed: EnvChanges = {name: None for name in self._current() if name not in checked}
        for name, value in checked.items():
            self._told(name, value)
        self._changes.update({**removed, **checked})  # one update: a spawn sees all or none

    def _told(self, name: str, value: str) -> None:
        if self._on_write is not None:
            self._on_write(name, value)
