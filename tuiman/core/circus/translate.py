"""Translate the sections of a Circus INI config into a tuiman TOML document (docs/circus.md).

The result is exactly what `tuiman convert` writes; the TOML pipeline then validates it, so an
INI file and its conversion load to the same watchers. Here go the Circus-only rules: option
names, value syntax, defaults (copy_env and stop_children false, working_dir = tuiman's cwd,
no flapping give-up without the plugin), env sections and expansion, streams, hooks.
Everything tuiman cannot honour is an error; Circus plumbing is a warning.
"""

from __future__ import annotations

import difflib
import fnmatch
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.circus.command_reloader import (
    COMMAND_RELOADER,
    add_reloader_watch,
    is_command_reloader,
    read_command_reloader,
)
from tuiman.core.circus.launch import LAUNCH_OPTIONS, read_umask, translate_launch
from tuiman.core.circus.model import (
    IniLocation,
    IniProblems,
    IniSection,
    OptionReader,
    command_tokens,
    expand_option,
    has_deprecated_wid,
    ini_bool,
    ini_int,
    ini_number,
    lowercase_env,
    section_location,
    toml_env_value,
)
from tuiman.core.circus.observers import OBSERVERS, AliveTables, read_observer
from tuiman.core.circus.options import (
    CIRCUS_PLUMBING,
    CIRCUS_UNSUPPORTED,
    FLAPPING_DEFAULTS,
    FLAPPING_PLUGIN,
    INCLUDE_OPTIONS,
    WATCHER_DEFAULT_ONLY,
    WATCHER_PLUMBING,
    WATCHER_UNSUPPORTED,
    WatcherValues,
    translate_hooks,
    translate_rlimits,
)
from tuiman.core.circus.plugins import RUNNABLE_PLUGINS, translate_plugins
from tuiman.core.circus.sockets import translate_sockets, translate_watcher_socket_options
from tuiman.core.circus.streams import STREAM_OPTIONS, translate_streams

_SECTION_KINDS = ("watcher", "env", "plugin", "socket")
_DEFAULT_SECTION = "DEFAULT"


@dataclass(frozen=True)
class _Flapping:
    """The `[plugin:…]` that loads Circus' flapping plugin: restart.flap_* defaults."""

    section: IniSection
    values: dict[str, int | float]  # restart key → value
    locations: dict[str, IniLocation]
    active: bool


# --- document ----------------------------------------------------------------------------------


def translate(
    sections: Mapping[str, IniSection],
    problems: IniProblems,
    *,
    cwd: Path,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """The TOML document (as `tomllib` would return it) equivalent to `sections`."""
    document: dict[str, Any] = {}
    watcher_sections: dict[str, IniSection] = {}
    env_sections: list[IniSection] = []
    plugin_sections: list[IniSection] = []
    socket_sections: list[IniSection] = []
    for section in sections.values():
        if not section.options and section.name not in ("circus", "env"):
            problems.warn_at(section_location(section), "empty section: skipped, as Circus does")
            continue
        kind, separator, rest = section.name.partition(":")
        if section.name == "circus":
            _translate_circus(section, problems, document, environ)
        elif section.name == "env":
            document["env"] = _translate_global_env(section, problems, environ)
        elif separator and kind == "watcher":
            watcher_sections[rest] = section
        elif separator and kind == "env":
            env_sections.append(section)
        elif separator and kind == "plugin":
            plugin_sections.append(section)
        elif separator and kind == "socket":
            socket_sections.append(section)
        else:
            problems.error_at(section_location(section), _unknown_section(section.name))
    reloader = read_command_reloader(
        [s for s in plugin_sections if is_command_reloader(s)], problems, environ
    )
    plugin_sections = [s for s in plugin_sections if not is_command_reloader(s)]
    plugin_sections = translate_plugins(plugin_sections, problems, document, environ)
    observers = AliveTables()
    flapping = _read_flapping(plugin_sections, problems, environ, observers)
    global_env = sections["env"].options if "env" in sections else {}
    context = _WatcherContext(
        problems=problems,
        cwd=cwd,
        environ=environ,
        global_env={name: entry.value for name, entry in global_env.items()},
        env_sections=env_sections,
        flapping=flapping,
    )
    watchers = {
        name: _translate_watcher(name, watcher_sections[name], context)
        for name in sorted(watcher_sections)  # Circus sorts its watchers by name
    }
    if reloader is not None:
        for name, table in watchers.items():
            add_reloader_watch(name, table, reloader, problems, cwd, environ)
    for env_section in env_sections:
        patterns = _env_patterns(env_section)
        if not any(_env_applies(patterns, name) for name in watchers):
            problems.warn_at(section_location(env_section), "matches no watcher")
    _add_alive_tables(watchers, observers, problems)
    if socket_sections:
        document["sockets"] = translate_sockets(socket_sections, problems, cwd=cwd, environ=environ)
    if watchers:
        document["watchers"] = watchers
    return document


def _add_alive_tables(
    watchers: dict[str, dict[str, Any]], observers: AliveTables, problems: IniProblems
) -> None:
    for name, table in observers.tables.items():
        location = observers.sources[name]
        if name not in watchers:
            problems.error_at(location, f"no watcher named {name!r}")
            continue
        watchers[name]["alive"] = table
        problems.origins[("watchers", name, "alive")] = location


def _unknown_section(name: str) -> str:
    if name == _DEFAULT_SECTION:
        return (
            "not supported: its options would apply to every section; "
            "copy them into the sections that need them"
        )
    kind, separator, rest = name.partition(":")
    candidates = _SECTION_KINDS if separator else ("circus", "env")
    close = difflib.get_close_matches(kind, candidates, n=1)
    if not close:
        hint = " (expected [circus], [env], [env:NAMES], [watcher:NAME] or [plugin:NAME])"
    else:
        hint = f" (did you mean [{close[0]}{separator}{rest}]?)"
    return f"unknown section{hint}"


def _translate_circus(
    section: IniSection,
    problems: IniProblems,
    document: dict[str, Any],
    environ: Mapping[str, str],
) -> None:
    reader = OptionReader(section, problems, lowercase_env(environ))
    warmup_delay = reader.get("warmup_delay", ini_number)
    if warmup_delay is not None:
        document.setdefault("tuiman", {})["warmup_delay"] = warmup_delay
        problems.origins[("tuiman", "warmup_delay")] = reader.location("warmup_delay")
    umask = read_umask(reader, "umask")
    if umask is not None:
        document.setdefault("tuiman", {})["umask"] = umask
        problems.origins[("tuiman", "umask")] = reader.location("umask")
    for option in INCLUDE_OPTIONS:
        reader.raw(option)  # already read by the file reader
    _report_plumbing_and_unsupported(reader, CIRCUS_PLUMBING, CIRCUS_UNSUPPORTED)
    reader.report_unknown(["warmup_delay", "umask", *INCLUDE_OPTIONS, *CIRCUS_PLUMBING])


def _report_plumbing_and_unsupported(
    reader: OptionReader, plumbing: Mapping[str, str], unsupported: Mapping[str, str]
) -> None:
    for option in reader.unread():
        if option in plumbing:
            reader.raw(option)
            reader.problems.warn_at(
                IniLocation(reader.location(option).file_label, reader.section.name),
                f"tuiman ignores {option}: {plumbing[option]}",
            )
        elif option in unsupported:
            reader.raw(option)
            reader.problems.error_at(
                reader.location(option), f"not supported: {unsupported[option]}"
            )


def _translate_global_env(
    section: IniSection, problems: IniProblems, environ: Mapping[str, str]
) -> dict[str, str]:
    """`[env]`: Circus expands `$(circus.env.X)` here at load time, then `$NAME` like any env."""
    load_env = lowercase_env(environ)
    env_table: dict[str, str] = {}
    for name, entry in section.options.items():
        env_table[name] = toml_env_value(expand_option(entry.value, load_env))
        problems.origins[("env", name)] = section_location(section, name)
    return env_table


def _env_patterns(section: IniSection) -> list[str]:
    return [pattern.strip() for pattern in section.name.partition(":")[2].split(",")]


def _env_applies(patterns: list[str], watcher_name: str) -> bool:
    return any(fnmatch.fnmatchcase(watcher_name, pattern) for pattern in patterns)


# --- flapping ----------------------------------------------------------------------------------

_FLAPPING_KEYS: dict[str, tuple[str, Callable[[str], int | float]]] = {
    "attempts": ("flap_attempts", ini_int),
    "window": ("flap_window", ini_number),
    "retry_in": ("retry_in", ini_number),
    "max_retry": ("flap_max_retry", ini_int),
}


def _read_flapping(
    plugin_sections: list[IniSection],
    problems: IniProblems,
    environ: Mapping[str, str],
    observers: AliveTables,
) -> _Flapping | None:
    flapping: _Flapping | None = None
    for section in plugin_sections:
        reader = OptionReader(section, problems, lowercase_env(environ))
        plugin_class = (reader.text("use") or "").strip()
        if plugin_class in OBSERVERS:
            read_observer(section, reader, plugin_class, observers)
            continue
        if plugin_class != FLAPPING_PLUGIN:
            shown = plugin_class or "(no use = …)"
            problems.error_at(
                section_location(section),
                f"plugin {shown} is not supported (tuiman maps {FLAPPING_PLUGIN} onto its "
                f"restart policy, {COMMAND_RELOADER} onto restart on change and HttpObserver "
                "and ResourceWatcher onto liveness checks, and runs "
                f"{', '.join(RUNNABLE_PLUGINS)})",
            )
            continue
        if flapping is not None:
            problems.error_at(
                section_location(section),
                f"a second flapping plugin (the first is [{flapping.section.name}])",
            )
            continue
        values: dict[str, int | float] = dict(FLAPPING_DEFAULTS)
        locations = {key: section_location(section) for key in values}
        for option, (restart_key, convert) in _FLAPPING_KEYS.items():
            value = reader.get(option, convert)
            if value is not None:
                values[restart_key] = value
                locations[restart_key] = reader.location(option)
        active = reader.get("active", ini_bool)
        _report_plumbing_and_unsupported(
            reader, {"priority": "it orders Circus' plugin process; tuiman runs none"}, {}
        )
        reader.report_unknown(["use", "active", "priority", *_FLAPPING_KEYS])
        flapping = _Flapping(section, values, locations, active is not False)
    return flapping


# --- watchers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WatcherContext:
    problems: IniProblems
    cwd: Path
    environ: Mapping[str, str]
    global_env: dict[str, str]  # [env], raw
    env_sections: list[IniSection]
    flapping: _Flapping | None


_BOOL_OPTIONS = ("respawn", "autostart", "singleton")
_INT_OPTIONS = ("numprocesses", "priority", "max_retry")
_NUMBER_OPTIONS = ("graceful_timeout", "warmup_delay", "max_age", "max_age_variance")


def _translate_watcher(name: str, section: IniSection, context: _WatcherContext) -> dict[str, Any]:
    problems = context.problems
    problems.origins[("watchers", name)] = section_location(section)
    env_entries = _watcher_env(name, section, context)
    # Circus' load-time pass sees its own environment, [env] and the env sections, all raw.
    load_env = lowercase_env(
        context.environ,
        context.global_env,
        {variable: value for variable, (value, _location) in env_entries.items()},
    )
    reader = OptionReader(section, problems, load_env)
    reader.raw("env")  # read by _watcher_env
    values = WatcherValues(name, reader, problems)
    copy_env = reader.get("copy_env", ini_bool) or False
    values.put("copy_env", copy_env, "copy_env")
    shell = reader.get("shell", ini_bool) or False
    _translate_command(values, reader, shell, load_env)
    for option in _INT_OPTIONS:
        values.put(option, reader.get(option, ini_int), option)
    for option in _NUMBER_OPTIONS:
        values.put(option, reader.get(option, ini_number), option)
    for option in _BOOL_OPTIONS:
        values.put(option, reader.get(option, ini_bool), option)
    values.put("stop_children", reader.get("stop_children", ini_bool) or False, "stop_children")
    values.put("shell", shell or None, "shell")
    values.put_working_dir(reader.text("working_dir"), context.cwd)
    values.put_signal_and_ids()
    translate_rlimits(values)
    translate_launch(values, context.cwd)
    if env_entries:
        values.table["env"] = {
            variable: toml_env_value(value) for variable, (value, _location) in env_entries.items()
        }
        for variable, (_value, location) in env_entries.items():
            problems.origins[("watchers", name, "env", variable)] = location
    for variable in context.global_env.keys() - env_entries.keys():
        problems.origins[("watchers", name, "env", variable)] = problems.origins[("env", variable)]
    values.table["restart"] = _restart_table(values, context.flapping)
    translate_streams(values, context.cwd)
    translate_hooks(values)
    translate_watcher_socket_options(values)
    _report_watcher_leftovers(reader)
    return _in_key_order(values.table)


# The order of the key reference (docs/configuration.md#keys), so a converted file reads like a
# hand-written one.
_KEY_ORDER = (
    "cmd",
    "args",
    "numprocesses",
    "priority",
    "working_dir",
    "copy_env",
    "stop_signal",
    "graceful_timeout",
    "stop_children",
    "respawn",
    "autostart",
    "warmup_delay",
    "max_retry",
    "singleton",
    "shell",
    "uid",
    "gid",
    "rlimits",
    "max_age",
    "max_age_variance",
    "virtualenv",
    "virtualenv_py_ver",
    "copy_path",
    "send_hup",
    "umask",
    "env",
    "restart",
    "output",
    "hooks",
)


def _in_key_order(table: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: table[key] for key in _KEY_ORDER if key in table}
    return {**ordered, **table}


def _watcher_env(
    name: str, section: IniSection, context: _WatcherContext
) -> dict[str, tuple[str, IniLocation]]:
    """The watcher's own variables, raw: matching `[env:…]` sections in file order (later
    wins). `[env]` is the TOML `[env]` table."""
    entries: dict[str, tuple[str, IniLocation]] = {}
    for env_section in context.env_sections:
        if _env_applies(_env_patterns(env_section), name):
            for variable, entry in env_section.options.items():
                entries[variable] = (entry.value, section_location(env_section, variable))
    if "env" in section.options:
        # Circus reads it, then replaces it with the env sections' variables: it never
        # reaches the processes.
        context.problems.warn_at(
            section_location(section, "env"),
            f"ignored, as Circus 0.19 ignores it: put the variables in [env:{name}]",
        )
    return entries


def _translate_command(
    values: WatcherValues,
    reader: OptionReader,
    shell: bool,
    load_env: Mapping[str, str],
) -> None:
    """cmd + args. With `shell`, Circus splits both, quotes every word and joins them into one
    command line for `/bin/sh -c`; tuiman gets that line, so the same words reach the shell."""
    values.problems.origins[("watchers", values.name, "cmd")] = reader.location("cmd")
    parts: dict[str, str] = {}
    for option in ("cmd", "args"):
        raw_value = reader.raw(option)
        if raw_value is None:
            continue
        if has_deprecated_wid(raw_value):
            values.problems.error_at(
                reader.location(option),
                "$WID is not supported (Circus deprecated it): write $(circus.wid)",
            )
        parts[option] = command_tokens(raw_value, load_env)
    if not shell:
        for option, text in parts.items():
            values.put(option, text, option)
        return
    words: list[str] = []
    for option, text in parts.items():
        try:
            words.extend(shlex.split(text))
        except ValueError as error:
            values.problems.error_at(
                reader.location(option), f"cannot split the command line: {error}"
            )
            return
    if "cmd" in parts:
        values.put("cmd", " ".join(shlex.quote(word) for word in words), "cmd")
    quoted = [word for word in words if _shell_syntax(word)]
    if quoted:
        values.problems.warn_at(
            reader.location("cmd"),
            f"with shell = true Circus quotes every word, so {quoted[0]} reaches the shell "
            "as plain text; tuiman does the same",
        )


def _shell_syntax(word: str) -> bool:
    without_tokens = command_tokens(word, {}).replace("$(circus.", "")
    return any(character in without_tokens for character in "|&;<>$`*?")


def _restart_table(values: WatcherValues, flapping: _Flapping | None) -> dict[str, Any]:
    """Without the flapping plugin Circus never gives up: flap_max_retry = -1."""
    reader = values.reader
    restart_path = ("watchers", values.name, "restart")
    values.problems.origins[restart_path] = reader.location()
    if flapping is None or not flapping.active:
        reason = (
            "Circus uses it only with [plugin:flapping]"
            if flapping is None
            else f"[{flapping.section.name}] has active = false"
        )
        for option in reader.unread("flapping."):
            reader.raw(option)
            values.problems.warn_at(reader.location(), f"tuiman ignores {option}: {reason}")
        return {"flap_max_retry": -1}
    restart: dict[str, Any] = dict(flapping.values)
    for restart_key, location in flapping.locations.items():
        values.problems.origins[(*restart_path, restart_key)] = location
    for option, (restart_key, convert) in _FLAPPING_KEYS.items():
        value = reader.get(f"flapping.{option}", convert)
        if value is not None:
            restart[restart_key] = value
            values.problems.origins[(*restart_path, restart_key)] = reader.location(
                f"flapping.{option}"
            )
    if reader.get("flapping.active", ini_bool) is False:
        return {"flap_max_retry": -1}
    return restart


def _report_watcher_leftovers(reader: OptionReader) -> None:
    for option in reader.unread():
        if option in WATCHER_DEFAULT_ONLY:
            supported_value, reason = WATCHER_DEFAULT_ONLY[option]
            value = reader.get(option, ini_bool)
            if value is not None and value != supported_value:
                reader.problems.error_at(reader.location(option), f"not supported: {reason}")
    _report_plumbing_and_unsupported(reader, WATCHER_PLUMBING, WATCHER_UNSUPPORTED)
    known = [
        "cmd",
        "args",
        "env",
        "copy_env",
        "shell",
        "working_dir",
        "stop_signal",
        "uid",
        "gid",
        *_INT_OPTIONS,
        *_NUMBER_OPTIONS,
        *_BOOL_OPTIONS,
        *(f"flapping.{option}" for option in (*_FLAPPING_KEYS, "active")),
        "hooks.before_start",
        "rlimit_nofile",
        *STREAM_OPTIONS,
        *WATCHER_DEFAULT_ONLY,
        *WATCHER_PLUMBING,
        *WATCHER_UNSUPPORTED,
        *LAUNCH_OPTIONS,
    ]
    reader.report_unknown(known)
