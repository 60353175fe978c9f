"""The JSON Schema of the TOML config, generated from the loader itself (`tuiman schema`).

Nothing here lists a key. The loader reads probe documents with a recording `Problems`
(`Problems.key_reads`): every key a `TableReader` looked for, with the converter and default it
used, becomes a property; a key the first probe found missing is required. Later probes set a
sample value for every key seen and a `probe` entry in every table read without keys, until no
new key turns up: keys read only when another is set, and tables of named tables (like
`watchers`), are found too. Converters map to JSON types (by identity, their factory's bounds,
or by trying sample values), so a key added to the loader shows up here when the schema is
generated again (`make schema`).

What the recording cannot see is the shape of the free-form tables (`env`, `rlimits`, `hooks`):
`_free_form_table` describes those, next to the tables that mirror their readers.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuiman.core.config import launch_keys, output_keys, validate
from tuiman.core.config.loader import build_config
from tuiman.core.config.model import HOOK_NAMES
from tuiman.core.config.probe_model import CONDITIONS
from tuiman.core.config.probes import as_memory_size, as_true
from tuiman.core.config.terminal import STDIN_MODES, as_stdin_mode
from tuiman.core.config.validate import KeyPath, KeyRead, Problems, as_table

SCHEMA_FILE_NAME = "tuiman.schema.json"
SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
_PROBE_WATCHER = "probe"
_PROBE_HOOK = HOOK_NAMES[0]
_WATCHER_PATH: KeyPath = ("watchers", _PROBE_WATCHER)
_MAX_PROBE_PASSES = 5
_WATCHER_NAME_PATTERN = "^[A-Za-z0-9_.-]+$"
_IGNORED_TOP_LEVEL = {"$schema": {"type": "string", "description": "the schema of this file"}}

JsonSchema = dict[str, Any]

_STRING_OR_STRINGS: JsonSchema = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
}
# Keys whose reader checks the value itself (TableReader.has, then the raw value).
_UNCONVERTED_KEYS: dict[str, JsonSchema] = {
    "cmd": _STRING_OR_STRINGS,
    "args": _STRING_OR_STRINGS,
    "env_file": _STRING_OR_STRINGS,
}
_ENV_TABLE: JsonSchema = {
    "type": "object",
    "propertyNames": {"pattern": "^[^=\\u0000]+$"},
    "additionalProperties": {"type": ["string", "number"]},
}
_RLIMITS_TABLE: JsonSchema = {
    "type": "object",
    "propertyNames": {
        "enum": sorted(
            {
                spelling
                for name in validate.RLIMIT_NAMES
                for spelling in (name, name.upper(), f"RLIMIT_{name.upper()}")
            }
        )
    },
    "additionalProperties": {
        "anyOf": [
            {"type": "integer", "minimum": -1},
            {"type": "string", "enum": ["unlimited", "infinity"]},
        ]
    },
}
_SIGNAL: JsonSchema = {"type": ["string", "integer"], "description": "a name (TERM) or a number"}
_USER_OR_GROUP: JsonSchema = {"type": ["string", "integer"], "description": "a name or number"}
_KNOWN_CONVERTERS: dict[Callable[[object], Any], JsonSchema] = {
    validate.as_bool: {"type": "boolean"},
    validate.as_str: {"type": "string"},
    validate.as_signal: _SIGNAL,
    validate.as_uid: _USER_OR_GROUP,
    validate.as_gid: _USER_OR_GROUP,
    validate.as_respawn: {"anyOf": [{"type": "boolean"}, {"const": "on-failure"}]},
    validate.as_exit_codes: {
        "type": "array",
        "items": {"type": "integer", "minimum": -128, "maximum": 255},
    },
    as_stdin_mode: {"enum": list(STDIN_MODES)},
    launch_keys.as_umask: {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 0o777},
            {"type": "string", "pattern": "^0?[oO]?[0-7]{1,4}$"},
        ],
        "description": 'octal: 0o027 or "027"',
    },
    launch_keys.as_py_version: {"type": "string", "pattern": "^\\d+\\.\\d+$"},
    output_keys.as_line_format: {"enum": list(output_keys.LINE_FORMATS)},
    output_keys.as_time_format: {"type": "string", "minLength": 1},
    output_keys.as_rotate_when: {
        "type": "string",
        "pattern": "^([SsMmHhDd]|[Mm][Ii][Dd][Nn][Ii][Gg][Hh][Tt]|[Ww][0-6])$",
    },
    as_true: {"const": True},  # notify = true
    as_memory_size: {
        "anyOf": [
            {"type": "integer", "exclusiveMinimum": 0},
            {"type": "string", "pattern": "^\\s*\\d+(\\.\\d+)?\\s*[KMGTkmgt]?([iI]?[bB])?\\s*$"},
        ]
    },
}
_PROBE_VALUES: list[tuple[str, object]] = [
    ("boolean", True),
    ("integer", 0),
    ("integer", 4096),
    ("number", 1.5),
    ("string", "x"),
    ("array", ["x"]),
]


def generate_schema() -> JsonSchema:
    """The schema, as a JSON-ready dict (stable order: the loader's reading order)."""
    reads = _record_key_reads()
    required = reads.pop(("required",))
    watcher = _object_schema(_WATCHER_PATH, reads, required)
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "tuiman config",
        "description": "A tuiman TOML config (docs/configuration.md); made by `tuiman schema`.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **_IGNORED_TOP_LEVEL,
            **_object_schema((), reads, required, {"watchers": {"$ref": "#/definitions/watchers"}})[
                "properties"
            ],
        },
        "definitions": {
            "watchers": {
                "type": "object",
                "propertyNames": {"pattern": _WATCHER_NAME_PATTERN},
                "additionalProperties": {"$ref": "#/definitions/watcher"},
            },
            "watcher": watcher,
            "hook": _hook_schema(reads, required),
        },
    }


def schema_text() -> str:
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def accepted_keys() -> dict[KeyPath, list[str]]:
    """Every key the loader reads, by table (watcher tables as `("watchers", "*")`)."""
    reads = _record_key_reads()
    reads.pop(("required",))
    tables: dict[KeyPath, list[str]] = {}
    for table_path, keys in reads.items():
        tables[_generic_path(table_path)] = [read.key for read in keys]
    return tables


# --- recording ---------------------------------------------------------------------------------


def _record_key_reads() -> dict[Any, Any]:
    """`{table_path: [KeyRead, ...], ("required",): {"dotted.key", ...}}` of probe loads: one
    watcher with nothing set (what is required), then, until no new key turns up, a document
    with a sample value for every key seen and a `probe` entry in every table read without keys
    of its own (keys read only when another is set; tables of named tables, like `watchers`)."""
    first_document: dict[str, Any] = {"watchers": {_PROBE_WATCHER: {"hooks": {_PROBE_HOOK: {}}}}}
    all_reads, errors = _probe_load(first_document)
    for _ in range(_MAX_PROBE_PASSES):
        more_reads, _ = _probe_load(_filled_document(all_reads))
        new_reads = {where: read for where, read in more_reads.items() if where not in all_reads}
        if not new_reads:
            break
        all_reads.update(new_reads)
    by_table: dict[Any, Any] = {}
    for read in all_reads.values():
        by_table.setdefault(read.table_path, []).append(read)
    by_table[("required",)] = {
        line.removeprefix("probe: ").removesuffix(": missing required key")
        for line in errors
        if line.endswith(": missing required key")
    }
    return by_table


def _probe_load(document: dict[str, Any]) -> tuple[dict[Any, KeyRead], list[str]]:
    problems = Problems("probe")
    problems.key_reads = {}
    build_config(
        document,
        problems,
        config_dir=Path("/nonexistent"),
        cwd=Path("/nonexistent"),
        environ={},
        source="probe",
    )
    return problems.key_reads, problems.errors


def _filled_document(reads: dict[Any, KeyRead]) -> dict[str, Any]:
    """The probe document with a sample value for every key read (hooks left empty: a value
    there would import a module)."""
    tables_with_keys = {read.table_path for read in reads.values()}
    document: dict[str, Any] = {"watchers": {_PROBE_WATCHER: {"hooks": {_PROBE_HOOK: {}}}}}
    for read in reads.values():
        key_path = (*read.table_path, read.key)
        if key_path in {("watchers",), (*_WATCHER_PATH, "hooks")}:
            continue
        table = document
        for part in read.table_path:
            table = table.setdefault(str(part), {})
        if read.convert is as_table:
            if key_path not in tables_with_keys:
                table.setdefault(read.key, {_PROBE_WATCHER: {}})
            continue
        sample = _sample_value(read)
        if sample is not None:
            table[read.key] = sample
    return document


def _sample_value(read: KeyRead) -> object:
    if read.convert is None:
        return "x"
    if read.convert is as_table:
        return {}
    for _, sample in _PROBE_VALUES:
        try:
            read.convert(sample)
        except (validate.InvalidValue, TypeError, ValueError):
            continue
        return sample
    return None


def _generic_path(table_path: KeyPath) -> KeyPath:
    """The probe's names as `*`: `("watchers", "probe", "hooks", "before_start")` →
    `("watchers", "*", "hooks", "*")`."""
    generic: list[str | int] = []
    for position, part in enumerate(table_path):
        previous = table_path[position - 1] if position else None
        named = part == _PROBE_WATCHER or (previous == "hooks" and part == _PROBE_HOOK)
        generic.append("*" if named else part)
    return tuple(generic)


# --- building ----------------------------------------------------------------------------------


def _object_schema(
    table_path: KeyPath,
    reads: dict[Any, Any],
    required: set[str],
    overrides: dict[str, JsonSchema] | None = None,
) -> JsonSchema:
    properties: dict[str, JsonSchema] = {}
    required_keys: list[str] = []
    for read in reads.get(table_path, []):
        if overrides and read.key in overrides:
            properties[read.key] = overrides[read.key]
        else:
            properties[read.key] = _key_schema(read, reads, required)
        if validate.format_key_path((*table_path, read.key)) in required:
            required_keys.append(read.key)
    schema: JsonSchema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required_keys:
        schema["required"] = required_keys
    return schema


def _key_schema(read: KeyRead, reads: dict[Any, Any], required: set[str]) -> JsonSchema:
    key_path = (*read.table_path, read.key)
    if read.convert is as_table:
        if key_path in reads:  # a table the loader reads key by key
            return _object_schema(key_path, reads, required)
        if (*key_path, _PROBE_WATCHER) in reads:  # named tables, each read key by key
            return {
                "type": "object",
                "additionalProperties": _object_schema(
                    (*key_path, _PROBE_WATCHER), reads, required
                ),
            }
        return _free_form_table(read.key, reads, required)
    if read.convert is None:
        return dict(_UNCONVERTED_KEYS.get(read.key, {}))
    schema = dict(_converter_schema(read.convert))
    default = _json_default(read.default)
    if default is not None:
        schema["default"] = default
    return schema


def _free_form_table(key: str, reads: dict[Any, Any], required: set[str]) -> JsonSchema:
    if key == "env":
        return _ENV_TABLE
    if key == "rlimits":
        return _RLIMITS_TABLE
    if key == "depends_on":  # watcher name -> condition (docs/readiness.md#dependencies)
        return {"type": "object", "additionalProperties": {"enum": list(CONDITIONS)}}
    if key == "hooks":
        hook = {"$ref": "#/definitions/hook"}
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: hook for name in HOOK_NAMES},
        }
    return {"type": "object"}


def _hook_schema(reads: dict[Any, Any], required: set[str]) -> JsonSchema:
    hook_table = _object_schema((*_WATCHER_PATH, "hooks", _PROBE_HOOK), reads, required)
    for key_schema in hook_table["properties"].values():
        key_schema.pop("default", None)  # the probe hook's defaults are not every hook's
    return {"anyOf": [{"type": "string", "description": "a dotted path"}, hook_table]}


def _converter_schema(convert: Callable[[object], Any]) -> JsonSchema:
    if convert in _KNOWN_CONVERTERS:
        return _KNOWN_CONVERTERS[convert]
    qualified_name = getattr(convert, "__qualname__", "")
    bounds = inspect.getclosurevars(convert).nonlocals if inspect.isfunction(convert) else {}
    if qualified_name.startswith("integer_in_range."):
        schema: JsonSchema = {"type": "integer"}
        if bounds.get("minimum") is not None:
            schema["minimum"] = bounds["minimum"]
        if bounds.get("maximum") is not None:
            schema["maximum"] = bounds["maximum"]
        return schema
    if qualified_name.startswith("number_in_range."):
        bound = "minimum" if bounds.get("allow_minimum", True) else "exclusiveMinimum"
        return {"type": "number", bound: bounds.get("minimum", 0.0)}
    return _probed_schema(convert)


def _probed_schema(convert: Callable[[object], Any]) -> JsonSchema:
    """The JSON types a converter the generator does not know accepts, by trying samples."""
    accepted: list[str] = []
    for json_type, sample in _PROBE_VALUES:
        try:
            convert(sample)
        except (validate.InvalidValue, TypeError, ValueError):
            continue
        if json_type not in accepted:
            accepted.append(json_type)
    if "integer" in accepted and "number" in accepted:
        accepted.remove("integer")
    if not accepted:
        return {}
    return {"type": accepted[0] if len(accepted) == 1 else accepted}


def _json_default(value: object) -> object:
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() else value
    if isinstance(value, frozenset):
        return sorted(value)
    return None
