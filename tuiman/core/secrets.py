"""Masking of secret-looking environment values wherever tuiman shows them
(docs/reliability.md#secrets-stay-masked)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping

SECRET_PATTERNS = ("*TOKEN*", "*SECRET*", "*PASSWORD*", "*KEY*")
MASK = "********"


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_PATTERNS)


def masked_env(environment: Mapping[str, str]) -> dict[str, str]:
    """A copy of `environment` whose secret-looking values are replaced by a fixed mask."""
    return {name: MASK if looks_secret(name) else value for name, value in environment.items()}


def mask_text(text: str, environment: Mapping[str, str]) -> str:
    """Replace occurrences of secret values (at least 4 characters long) inside `text`."""
    for name, value in environment.items():
        if len(value) >= 4 and looks_secret(name) and value in text:
            text = text.replace(value, MASK)
    return text


def secret_values(environments: Iterable[Mapping[str, str]]) -> tuple[str, ...]:
    """The values (at least 4 characters) of secret-looking variables, longest first."""
    found = {
        value
        for environment in environments
        for name, value in environment.items()
        if len(value) >= 4 and looks_secret(name)
    }
    return tuple(sorted(found, key=len, reverse=True))


def make_redactor(values: Iterable[str]) -> Callable[[str], str] | None:
    """A function that masks every one of `values` inside a text; None when there are none."""
    secrets = tuple(sorted(set(values), key=len, reverse=True))
    if not secrets:
        return None

    def redact(text: str) -> str:
        for value in secrets:
            if value in text:
                text = text.replace(value, MASK)
        return text

    return redact
