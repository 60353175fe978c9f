"""Resolve `[watchers.NAME.hooks]` at load time (docs/hooks.md#configuration): import, check
callable and signature.

Modules are imported with the config file's directory and then the watcher's PYTHONPATH entries
appended to `sys.path` (they stay there: a hook may import its siblings lazily). A module whose
top-level name is a standard-library module is refused, and so is one whose file next to the
config is hidden by an installed module of the same name — either way the hook would silently
be someone else's code.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuiman.core.config.hook_import import ImportNeverFinished, import_bounded
from tuiman.core.config.model import (
    HOOK_NAMES,
    IGNORED_FAILURE_HOOKS,
    ArbiterConfig,
    HookSpec,
)
from tuiman.core.config.validate import (
    InvalidValue,
    TableReader,
    as_bool,
    as_str,
    describe_value,
    did_you_mean,
    number_in_range,
)

# The keyword arguments each hook is called with besides watcher=, arbiter=, hook_name=
# (docs/hooks.md#the-eleven-hooks).
HOOK_EXTRA_KWARGS: dict[str, tuple[str, ...]] = {
    "before_start": (),
    "after_start": (),
    "before_spawn": (),
    "after_spawn": ("pid",),
    "before_stop": (),
    "after_stop": (),
    "before_signal": ("pid", "signum"),
    "after_signal": ("pid", "signum"),
    "before_reap": ("process_pid", "time"),
    "after_reap": ("process_pid", "time", "exit_code", "process_status"),
    "extended_stats": ("pid", "stats"),
}

HOOK_BASE_KWARGS: tuple[str, ...] = ("watcher", "arbiter", "hook_name")
DEFAULT_IMPORT_TIMEOUT = ArbiterConfig.hook_import_timeout


def read_hooks(
    reader: TableReader,
    environment: Mapping[str, str],
    default_timeout: float,
    *,
    config_dir: Path,
    cwd: Path,
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
    isolated: bool = False,
) -> dict[str, HookSpec]:
    """The watcher's `hooks` table → resolved `HookSpec`s; problems go to `reader.problems`.

    `isolated` is the watcher's `isolated_hooks`: the default of each hook's `isolated`.
    """
    search_dirs = [config_dir, *pythonpath_dirs(environment, cwd)]
    hook_specs: dict[str, HookSpec] = {}
    for hook_name, raw_hook in reader.get_table("hooks").items():
        hook_path = reader.path("hooks", hook_name)
        if hook_name not in HOOK_NAMES:
            reader.problems.error(hook_path, f"unknown hook{_hook_name_hint(hook_name)}")
            continue
        hook_spec = _read_hook(
            hook_name, raw_hook, reader, default_timeout, search_dirs, import_timeout, isolated
        )
        if hook_spec is not None:
            hook_specs[hook_name] = hook_spec
    return hook_specs


def _hook_name_hint(hook_name: str) -> str:
    return did_you_mean(hook_name, HOOK_NAMES) or f" (expected one of: {', '.join(HOOK_NAMES)})"


def _read_hook(
    hook_name: str,
    raw_hook: object,
    reader: TableReader,
    default_timeout: float,
    search_dirs: list[Path],
    import_timeout: float,
    isolated: bool,
) -> HookSpec | None:
    ignore_failure = hook_name in IGNORED_FAILURE_HOOKS
    timeout = default_timeout
    if isinstance(raw_hook, str):
        dotted_path: str | None = raw_hook
        path_key = reader.path("hooks", hook_name)
    elif isinstance(raw_hook, dict):
        hook_reader = TableReader(raw_hook, reader.path("hooks", hook_name), reader.problems)
        dotted_path = hook_reader.get_optional("path", as_str)
        if not hook_reader.has("path"):
            reader.problems.error(hook_reader.path("path"), "missing required key")
        ignore_failure = hook_reader.get("ignore_failure", as_bool, ignore_failure)
        timeout = hook_reader.get("timeout", number_in_range(0, allow_minimum=False), timeout)
        isolated = hook_reader.get("isolated", as_bool, isolated)
        hook_reader.report_unknown_keys()
        path_key = hook_reader.path("path")
    else:
        reader.problems.error(
            reader.path("hooks", hook_name),
            f"expected a dotted path or a table, got {describe_value(raw_hook)}",
        )
        return None
    if dotted_path is None:
        return None
    try:
        hook_function = resolve_hook(dotted_path, hook_name, search_dirs, import_timeout)
    except InvalidValue as problem:
        reader.problems.error(path_key, str(problem))
        return None
    return HookSpec(
        name=hook_name,
        path=dotted_path,
        func=hook_function,
        ignore_failure=ignore_failure,
        timeout=timeout,
        isolated=isolated,
    )


def pythonpath_dirs(environment: Mapping[str, str], cwd: Path) -> list[Path]:
    """The PYTHONPATH entries of a watcher's environment, absolute (relative to tuiman's cwd)."""
    entries = environment.get("PYTHONPATH", "").split(os.pathsep)
    return [cwd / entry for entry in entries if entry and "$(" not in entry]


def split_hook_path(dotted_path: str) -> tuple[str, str]:
    """`pkg.mod.func` or `pkg.mod:func` (or `pkg.mod:Class.method`) → (module, attribute path)."""
    if ":" in dotted_path:
        module_name, _, attribute_path = dotted_path.partition(":")
    else:
        module_name, _, attribute_path = dotted_path.rpartition(".")
    parts = [*module_name.split("."), *attribute_path.split(".")]
    if not module_name or not all(part.isidentifier() for part in parts):
        raise InvalidValue(f'expected "module.function" or "module:function", got "{dotted_path}"')
    return module_name, attribute_path


def resolve_hook(
    dotted_path: str,
    hook_name: str,
    search_dirs: list[Path],
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
) -> Callable[..., Any]:
    """Import the hook at `dotted_path` and check it can be called as `hook_name`."""
    module_name, attribute_path = split_hook_path(dotted_path)
    top_level_name = module_name.partition(".")[0]
    if top_level_name in sys.stdlib_module_names:
        raise InvalidValue(
            f"module {top_level_name} shadows a standard-library module (rename your module)"
        )
    module = _import_module(module_name, search_dirs, import_timeout)
    _refuse_shadowed_local_module(top_level_name, search_dirs)
    target: object = module
    for attribute in attribute_path.split("."):
        target = _attribute(target, attribute)
    if not callable(target):
        raise InvalidValue(f"{dotted_path} is not callable (it is {type(target).__name__})")
    check_hook_signature(target, hook_name, dotted_path)
    return target


def _attribute(owner: object, attribute: str) -> object:
    owner_name = getattr(owner, "__name__", type(owner).__name__)
    try:
        return getattr(owner, attribute)
    except AttributeError:
        raise InvalidValue(f"{owner_name} has no attribute {attribute}") from None
    except Exception as error:  # a module __getattr__ that fails otherwise
        raise InvalidValue(
            f"cannot get {owner_name}.{attribute}: {type(error).__name__}: {error}"
        ) from None


def _import_module(module_name: str, search_dirs: list[Path], timeout: float) -> object:
    known_entries = set(sys.path)
    for directory in search_dirs:
        if str(directory) not in known_entries:
            sys.path.append(str(directory))
            known_entries.add(str(directory))
    try:
        return import_bounded(module_name, timeout)
    except ImportNeverFinished as error:
        raise InvalidValue(f"cannot import {module_name}: {error}") from None
    except BaseException as error:  # a module's own code: SystemExit, KeyboardInterrupt too
        raise InvalidValue(
            f"cannot import {module_name}: {type(error).__name__}: {_text(error)}"
        ) from None


def _text(error: BaseException) -> str:
    try:
        return str(error).replace("\n", " ")  # one line per problem
    except Exception:
        return "<error not printable>"


def _refuse_shadowed_local_module(top_level_name: str, search_dirs: list[Path]) -> None:
    """Refuse when `top_level_name` exists in a search dir but was imported from elsewhere."""
    local_candidates = {
        candidate.resolve()
        for directory in search_dirs
        for candidate in (directory / f"{top_level_name}.py", directory / top_level_name)
        if os.path.exists(candidate)
    }
    module_spec = getattr(sys.modules.get(top_level_name), "__spec__", None)
    if not local_candidates or module_spec is None:
        return
    imported_locations = [*(module_spec.submodule_search_locations or []), module_spec.origin]
    imported_paths = {
        Path(location).resolve()
        for location in imported_locations
        if location and os.path.isabs(location)
    }
    if imported_paths & local_candidates or not imported_paths:
        return
    raise InvalidValue(
        f"module {top_level_name} is imported from {min(imported_paths)}, "
        f"not from {min(local_candidates)} (rename your module)"
    )


def check_hook_signature(
    hook_function: Callable[..., Any], hook_name: str, dotted_path: str
) -> None:
    """The hook must accept `watcher=, arbiter=, hook_name=` and its hook's extra keywords."""
    keyword_names = (*HOOK_BASE_KWARGS, *HOOK_EXTRA_KWARGS[hook_name])
    try:
        signature = inspect.signature(hook_function)
    except (TypeError, ValueError):
        return  # Some builtins have no signature; nothing we can prove wrong.
    try:
        signature.bind(**dict.fromkeys(keyword_names))
    except TypeError as error:
        call_shape = ", ".join(f"{name}=" for name in keyword_names)
        raise InvalidValue(
            f"{dotted_path} cannot take the {hook_name} call ({call_shape}): {error}"
        ) from None
