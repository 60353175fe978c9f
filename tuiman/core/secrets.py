"""Masking of secret-looking environment values wherever tuiman shows them
(docs/reliability.md#secrets-stay-masked).

A variable whose name looks secret is masked by name, and its value is masked wherever it
appears: inside another variable's value (`DATABASE_URL` built from `${DB_PASSWORD}`), in a
command line, an output line or anywhere in an event's payload, however deeply nested. A hook's
own event also has the values of its secret-looking keys masked (`{"db": {"password": …}}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

SECRET_PATTERNS = ("*TOKEN*", "*SECRET*", "*PASSWORD*", "*KEY*")
MASK = "********"
MIN_SECRET_LENGTH = 4  # shorter values would mask half of every text

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)
Redactor = Callable[[str], str]


def looks_secret(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def masked_env(environment: Mapping[str, str], redact: Redactor | None = None) -> dict[str, str]:
    """A copy of `environment` whose secret-looking values are replaced by a fixed mask, and
    whose other values have every secret value inside them masked: this environment's own
    secrets, and whatever `redact` masks besides."""
    own = make_redactor(secret_values([environment]))
    masked: dict[str, str] = {}
    for name, value in environment.items():
        if looks_secret(name):
            masked[name] = MASK
            continue
        if own is not None:
            value = own(value)
        masked[name] = value if redact is None else redact(value)
    return masked


def mask_text(text: str, environment: Mapping[str, str]) -> str:
    """Replace occurrences of secret values (at least 4 characters long) inside `text`."""
    redact = make_redactor(secret_values([environment]))
    return text if redact is None else redact(text)


def secret_values(environments: Iterable[Mapping[str, str]]) -> tuple[str, ...]:
    """The values (at least 4 characters) of secret-looking variables, longest first."""
    found = {
        value
        for environment in environments
        for name, value in environment.items()
        if len(value) >= MIN_SECRET_LENGTH and looks_secret(name)
    }
    return tuple(sorted(found, key=len, reverse=True))


def make_redactor(values: Iterable[str]) -> Redactor | None:
    """A function that masks every one of `values` inside a text; None when there are none."""
    secrets = tuple(sorted(set(values), key=len, reverse=True))
    if not secrets:
        return None

    def redact(text: str) -> str:
        for value in secrets:  # a few `in` scans beat one regex on the output hot path
            if value in text:
                text = text.replace(value, MASK)
        return text

    return redact


def redact_payload(
    payload: dict[str, Any], redact: Redactor | None, *, by_key: bool = False
) -> dict[str, Any]:
    """A copy of `payload` with `redact` applied to every string in it, at any depth (dicts,
    lists, tuples); with `by_key`, the value of every key that looks secret is masked too.
    Without `by_key` the top level is walked inline: an output line's payload is flat."""
    if by_key:
        return _redact_nested(payload, redact, True, 0)  # type: ignore[no-any-return]
    assert redact is not None
    masked: dict[str, Any] = {}
    for key, value in payload.items():
        if type(value) is str or isinstance(value, str):  # the first test is the cheap one
            masked[key] = redact(value)
        elif isinstance(value, _CONTAINERS):
            masked[key] = _redact_nested(value, redact, False, 0)
        else:
            masked[key] = value
    return masked


_CONTAINERS = (dict, list, tuple)
_MAX_DEPTH = 100  # a deeper (or self-referencing) payload is cut, not walked forever


def _redact_nested(value: Any, redact: Redactor | None, by_key: bool, depth: int) -> Any:
    if isinstance(value, str):
        return value if redact is None else redact(value)
    if depth >= _MAX_DEPTH and isinstance(value, _CONTAINERS):
        return MASK
    if isinstance(value, dict):
        return {
            key: MASK
            if by_key and isinstance(key, str) and looks_secret(key) and item is not None
            else _redact_nested(item, redact, by_key, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_nested(item, redact, by_key, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact_nested(item, redact, by_key, depth + 1) for item in value)
    return value
