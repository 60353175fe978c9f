"""The JSON Schema of the TOML config: generated from the loader, committed, and in step with
what the loader accepts (docs/configuration.md#editor-completion)."""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomli_w

from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.config.schema import accepted_keys, generate_schema, schema_text

REPO = Path(__file__).resolve().parents[2]
CONFIG_PACKAGE = REPO / "tuiman" / "core" / "config"
READER_METHODS = {"get_optional", "has", "get_table"}


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((REPO / "tuiman.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_committed_schema_is_the_generated_one() -> None:
    committed = (REPO / "tuiman.schema.json").read_text()
    assert committed == schema_text(), (
        "tuiman.schema.json is stale: run `tuiman schema -o tuiman.schema.json` (make schema)"
    )


def test_example_config_points_at_the_schema_and_validates() -> None:
    text = (REPO / "config.example.toml").read_text()
    assert text.splitlines()[0] == "#:schema ./tuiman.schema.json"
    errors = [error.message for error in validator().iter_errors(tomllib.loads(text))]
    assert errors == []


def test_demo_config_validates() -> None:
    text = resources.files("tuiman").joinpath("demo.toml").read_text(encoding="utf-8")
    errors = [error.message for error in validator().iter_errors(tomllib.loads(text))]
    assert errors == []


def schema_keys(schema: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(table path, key) for every key the schema describes; named tables as `*`."""
    for path, key, _ in schema_entries(schema):
        yield path, key


def schema_entries(
    schema: dict[str, Any],
) -> Iterator[tuple[tuple[str, ...], str, dict[str, Any]]]:
    """(table path, key, the key's schema) for every key of the schema."""
    definitions = schema["definitions"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            return dict(definitions[node["$ref"].rsplit("/", 1)[1]])
        return node

    def walk(
        node: dict[str, Any], path: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], str, dict[str, Any]]]:
        node = resolve(node)
        for option in node.get("anyOf", []):
            yield from walk(option, path)
        named_tables = node.get("additionalProperties")
        if isinstance(named_tables, dict):
            named_tables = resolve(named_tables)
            if "properties" in named_tables:
                yield from walk(named_tables, (*path, "*"))
        for key, child in node.get("properties", {}).items():
            yield path, key, resolve(child)
            if path[-1:] == ("hooks",):
                yield from walk(child, (*path, "*"))
            else:
                yield from walk(child, (*path, key))

    yield from walk(schema, ())


def test_every_key_the_loader_reads_is_in_the_schema_and_none_more() -> None:
    in_schema = {(path, key) for path, key in schema_keys(generate_schema()) if key != "$schema"}
    read = {(path, key) for path, keys in accepted_keys().items() for key in keys}
    hook_names = {
        (("watchers", "*", "hooks"), name)
        for path, name in in_schema
        if path == ("watchers", "*", "hooks")
    }
    assert in_schema - hook_names == read


def literal_reader_keys() -> set[str]:
    """Keys named as string literals in TableReader calls anywhere in the config package: this
    finds keys that a probe load might not reach (read only when another key is set)."""
    keys: set[str] = set()
    for module in CONFIG_PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            is_reader_get = method == "get" and len(node.args) == 3  # get(key, convert, default)
            if not (method in READER_METHODS or is_reader_get) or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                keys.add(first.value)
    return keys


def test_every_key_named_in_the_loader_source_is_in_the_schema() -> None:
    in_schema = {key for _, key in schema_keys(generate_schema())}
    missing = literal_reader_keys() - in_schema
    assert not missing, f"keys the loader reads but the schema lacks: {sorted(missing)}"


def sample(key_schema: dict[str, Any]) -> object:
    """A value of the type the schema gives (tables: an empty table, filled by their keys)."""
    if "anyOf" in key_schema:
        return sample(key_schema["anyOf"][0])
    if "const" in key_schema:
        return key_schema["const"]
    if "enum" in key_schema:
        return key_schema["enum"][0]
    json_type = key_schema.get("type", "string")
    json_type = json_type[0] if isinstance(json_type, list) else json_type
    minimum = key_schema.get("minimum", key_schema.get("exclusiveMinimum", 0))
    samples: dict[str, object] = {
        "string": "x",
        "integer": max(1, int(minimum) + 1),
        "number": max(1.0, float(minimum) + 1),
        "boolean": True,
        "array": [],
        "object": {},
    }
    return samples[json_type]


def document_with_every_key() -> dict[str, Any]:
    """Every key of the schema set to a value of its type, tables nested."""
    document: dict[str, Any] = {}
    for path, key, key_schema in schema_entries(generate_schema()):
        table = document
        for previous, part in zip(("", *path), path, strict=False):
            if part == "*":
                part = "before_start" if previous == "hooks" else "w"
            if not isinstance(table.get(part), dict):
                table[part] = {}
            table = table[part]
        table.setdefault(key, sample(key_schema))
    return document


def test_the_loader_knows_every_schema_key() -> None:
    """No key of the schema is an unknown key to the loader (values may still be wrong)."""
    text = tomli_w.dumps(document_with_every_key())
    try:
        load_config_text(text, Path("/probe.toml"), environ={})
        errors: list[str] = []
    except ConfigError as error:
        errors = error.errors
    unknown = [line for line in errors if ": unknown key" in line or ": unknown hook" in line]
    assert unknown == []


def test_a_typo_is_refused_by_both() -> None:
    document = {"watchers": {"w": {"cmd": "true", "numprocess": 2}}}
    assert [error.message for error in validator().iter_errors(document)] == [
        "Additional properties are not allowed ('numprocess' was unexpected)"
    ]
    with pytest.raises(ConfigError) as raised:
        load_config_text(tomli_w.dumps(document), Path("/probe.toml"), environ={})
    assert (
        "watchers.w.numprocess: unknown key (did you mean numprocesses?)" in raised.value.errors[0]
    )


def test_schema_command_prints_and_writes_the_committed_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    committed = (REPO / "tuiman.schema.json").read_text()
    printed = subprocess.run(
        [sys.executable, "-m", "tuiman", "schema"], capture_output=True, text=True, check=True
    )
    assert printed.stdout == committed
    written = tmp_path / "out.json"
    subprocess.run([sys.executable, "-m", "tuiman", "schema", "-o", str(written)], check=True)
    assert written.read_text() == committed
