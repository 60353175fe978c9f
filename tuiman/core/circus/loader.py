"""Circus INI configs (docs/circus.md): `tuiman -c circus.ini` and `tuiman convert circus.ini`.

An INI file is read with Circus' parser rules (`circus.util.StrictConfigParser`: option names
keep their case, the first value of a repeated option wins, a repeated section extends the
first, `;` starts a comment only after whitespace, `""` is the empty string, no `%`
interpolation), plus the files its `[circus] include` / `include_dir` name. Its sections are
then translated into the document a TOML config would be (`circus_ini_translate`), and that
document goes through the TOML pipeline — so loading an INI file and loading its conversion
give the same watchers by construction, and every check (docs/configuration.md#validation) applies
to both. Every problem names the INI file, section and option it came from.
"""

from __future__ import annotations

import configparser
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.circus.model import (
    IniLocation,
    IniOption,
    IniProblems,
    IniSection,
    expand_option,
    lowercase_env,
)
from tuiman.core.circus.options import INCLUDE_OPTIONS
from tuiman.core.circus.translate import translate
from tuiman.core.config.conversion_file import write_converted

# The TOML pipeline and the loader's file reading, shared so both formats behave alike.
from tuiman.core.config.load_options import LoadOptions
from tuiman.core.config.loader import ConfigError, build_config, read_text, real_path
from tuiman.core.config.model import Config

# configparser's DEFAULT section would apply its options to every section; Circus users
# hardly use it, so it is read as an ordinary section (and refused by the translator).
_NO_DEFAULT_SECTION = "\0 no default section \0"


@dataclass(frozen=True)
class CircusConversion:
    """`tuiman convert`'s result: the TOML text, and the INI's warnings."""

    toml_text: str
    warnings: tuple[str, ...]
    config: Config  # what loading the INI gives (and loading toml_text gives too)


def load_circus_config(
    path: str | Path,
    *,
    display_name: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv: Mapping[str, str] | None = None,
    load_options: LoadOptions | None = None,
) -> Config:
    """Load a Circus INI config; `ConfigError` lists every problem found. `dotenv`: the
    `.env` files' variables (docs/configuration.md#env-files)."""
    return _load(path, display_name, cwd, environ, dotenv, load_options)[1]


def convert_circus_config(
    path: str | Path,
    *,
    display_name: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> CircusConversion:
    """The TOML equivalent of a valid Circus INI config (written with tomli-w)."""
    import tomli_w

    document, config = _load(path, display_name, cwd, environ)
    file_label = display_name if display_name is not None else str(path)
    header = f"# Converted from {os.path.basename(file_label)} by tuiman convert.\n\n"
    return CircusConversion(header + tomli_w.dumps(document), config.warnings, config)


def write_conversion(
    conversion: CircusConversion, ini_path: str | Path, output_path: str | Path
) -> list[str]:
    """Write `conversion` to `output_path` (atomically); returns warnings about the move.

    Hook modules are found next to the config file (docs/hooks.md#configuration): a TOML written
    into another directory finds the INI's neighbours only if they are on PYTHONPATH.
    """
    ini_file = Path(os.path.abspath(ini_path))
    output = write_converted(conversion.toml_text, ini_file, output_path, "the Circus config")
    has_hooks = any(watcher.hooks for watcher in conversion.config.watchers)
    if has_hooks and output.parent != ini_file.parent:
        return [
            f"{output_path}: hook modules next to {ini_path} are found from "
            f"{output.parent} only if they are on PYTHONPATH"
        ]
    return []


def _load(
    path: str | Path,
    display_name: str | None,
    cwd: Path | None,
    environ: Mapping[str, str] | None,
    dotenv: Mapping[str, str] | None = None,
    load_options: LoadOptions | None = None,
) -> tuple[dict[str, Any], Config]:
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    environment = os.environ if environ is None else environ
    if dotenv:
        environment = {**environment, **dotenv}
    file_label = display_name if display_name is not None else str(path)
    file_path = Path(os.path.abspath(working_dir / os.path.expanduser(path)))
    problems = IniProblems(file_label)
    sections = read_circus_files(file_path, file_label, problems, environment)
    document = translate(sections, problems, cwd=working_dir, environ=environment)
    config = build_config(
        document,
        problems,
        config_dir=file_path.parent,
        cwd=working_dir,
        environ=environment,
        source=real_path(file_path),
        dotenv=dotenv,
        load_options=load_options,
    )
    if problems.errors:
        raise ConfigError(problems.errors)
    return document, config


# --- reading -----------------------------------------------------------------------------------


def read_circus_files(
    file_path: Path, file_label: str, problems: IniProblems, environ: Mapping[str, str]
) -> dict[str, IniSection]:
    """The sections of `file_path` and of the files its `[circus]` section includes.

    A syntax error stops loading at once (like a TOML syntax error); an option set twice is a
    warning, and as in Circus the first value wins — across included files too.
    """
    sections: dict[str, IniSection] = {}
    _merge(sections, _parse_file(file_path, file_label), file_label, problems)
    read_paths = {os.path.realpath(file_path)}
    for include_path, include_label in _includes(
        sections, file_path, file_label, problems, environ
    ):
        if os.path.realpath(include_path) in read_paths:
            continue
        read_paths.add(os.path.realpath(include_path))
        _merge(sections, _parse_file(include_path, include_label), include_label, problems)
    return sections


def _includes(
    sections: Mapping[str, IniSection],
    file_path: Path,
    file_label: str,
    problems: IniProblems,
    environ: Mapping[str, str],
) -> list[tuple[Path, str]]:
    """`include` (globs) and `include_dir` (`DIR/*.ini`), relative to the config's directory."""
    circus = sections.get("circus")
    if circus is None:
        return []
    found: list[tuple[Path, str]] = []
    for option in INCLUDE_OPTIONS:
        entry = circus.options.get(option)
        if entry is None:
            continue
        location = IniLocation(entry.file_label, "circus", option)
        for pattern in expand_option(entry.value, lowercase_env(environ)).split():
            if option == "include_dir":
                pattern = os.path.join(pattern, "*.ini")
            matches = sorted(glob.glob(os.path.join(file_path.parent, pattern)))
            if not matches:
                problems.warn_at(location, f"{pattern} matches no file")
            for match in matches:
                label = (
                    match
                    if os.path.isabs(pattern)
                    else os.path.join(
                        os.path.dirname(file_label), os.path.relpath(match, file_path.parent)
                    )
                )
                found.append((Path(match), label))
    return found


def _merge(
    sections: dict[str, IniSection],
    parsed: list[tuple[str, list[tuple[str, str]], list[str]]],
    file_label: str,
    problems: IniProblems,
) -> None:
    for section_name, options, repeated in parsed:
        section = sections.setdefault(section_name, IniSection(section_name, file_label))
        for option in repeated:
            problems.warn_at(
                IniLocation(file_label, section_name, option),
                "set more than once: the first value is used, as in Circus",
            )
        for option, value in options:
            if option in section.options:
                problems.warn_at(
                    IniLocation(file_label, section_name, option),
                    f"already set in {section.options[option].file_label}: "
                    "the first value is used, as in Circus",
                )
                continue
            section.options[option] = IniOption("" if value == '""' else value, file_label)


def _parse_file(
    file_path: Path, file_label: str
) -> list[tuple[str, list[tuple[str, str]], list[str]]]:
    """(section, [(option, value)], [options set twice]) for each section, in file order."""
    text = read_text(file_path, file_label)
    repeated: list[tuple[str, str]] = []

    class FirstValueWins(dict[str, Any]):
        """configparser's mapping, holding Circus' rule: a repeated option keeps its first
        value (configparser keeps the last). Sections are mappings of this type too."""

        section_name = ""

        def __setitem__(self, key: str, value: Any) -> None:
            if isinstance(value, FirstValueWins):
                value.section_name = key  # the parser registers a new section
            elif isinstance(value, list) and isinstance(self.get(key), list):
                repeated.append((self.section_name, key))
                return
            super().__setitem__(key, value)

    parser = _CircusParser(dict_type=FirstValueWins)
    try:
        parser.read_string(text, source=file_label)
    except configparser.MissingSectionHeaderError as error:
        raise ConfigError(
            [f"{file_label}: line {error.lineno}: expected a [section] first, got {error.line!r}"]
        ) from None
    except configparser.ParsingError as error:
        raise ConfigError(
            [
                f"{file_label}: line {line_number}: expected NAME = VALUE, got {line}"
                for line_number, line in error.errors
            ]
        ) from None
    except configparser.Error as error:
        raise ConfigError([f"{file_label}: {error.message}"]) from None
    return [
        (
            section_name,
            parser.items(section_name),
            [option for section, option in repeated if section == section_name],
        )
        for section_name in parser.sections()
    ]


class _CircusParser(configparser.RawConfigParser):
    def __init__(self, dict_type: type[dict[str, Any]]) -> None:
        super().__init__(
            dict_type=dict_type,
            delimiters=("=", ":"),
            comment_prefixes=("#", ";"),
            inline_comment_prefixes=(";",),
            strict=False,
            default_section=_NO_DEFAULT_SECTION,
            interpolation=None,
        )

    def optionxform(self, optionstr: str) -> str:
        return optionstr  # Circus keeps the case of option names
