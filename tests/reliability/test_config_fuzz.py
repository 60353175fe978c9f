"""Property-based fuzzing of the config loader (docs/configuration.md#validation,
docs/reliability.md#bad-input-never-crashes-tuiman): whatever the document, loading it gives a valid
`Config` or a `ConfigError` whose errors are one line each, naming the file — never another
exception.

Documents are built from the real key names (so the fuzzer gets deep into validation) mixed
with unknown keys, wrong types, NaN/inf, huge integers, expansion tokens, hook paths that are
broken in every way, watcher names that collide ignoring case, and nesting.
"""

from __future__ import annotations

import datetime
import math
import os
import signal
import string
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.config.model import (
    HOOK_NAMES,
    ArbiterConfig,
    Config,
    OutputConfig,
    RestartConfig,
    SocketConfig,
    WatcherConfig,
)
from tuiman.core.configfile import watcher_environment_problems

LABEL = "fuzz.toml"
EXAMPLES = int(os.environ.get("TUIMAN_FUZZ_EXAMPLES", "300"))  # raise it for a longer hunt
HOOKS_SOURCE = """
from typing import Any

NOT_CALLABLE = 3


def ok(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    return True


def positional(watcher: Any, /) -> bool:
    return True


async def async_ok(**kwargs: Any) -> bool:
    return True


class Klass:
    def __call__(self, **kwargs: Any) -> bool:
        return True


instance = Klass()
"""
BROKEN_IMPORT_SOURCE = "import no_such_module_for_fuzzing_xyz  # noqa: F401\n"


@pytest.fixture(scope="module")
def fuzz_dir() -> Iterator[tuple[Path, str, str]]:
    """A config directory holding hook modules with unique names (sys.modules is shared)."""
    with tempfile.TemporaryDirectory(prefix="tuiman-fuzz-") as directory:
        root = Path(directory)
        good = f"relfuzz_{uuid.uuid4().hex[:8]}"
        broken = f"relfuzz_broken_{uuid.uuid4().hex[:8]}"
        (root / f"{good}.py").write_text(HOOKS_SOURCE)
        (root / f"{broken}.py").write_text(BROKEN_IMPORT_SOURCE)
        (root / "work").mkdir()
        yield root, good, broken


# -- value strategies ---------------------------------------------------------------------------
TOKENS = [
    "$(tuiman.wid)",
    "$(tuiman.name)",
    "$(tuiman.numprocesses)",
    "$(tuiman.env.HOME)",
    "$(tuiman.env.NOPE)",
    "$(tuiman.bogus)",
    "$(tuiman.",
    "$HOME",
    "${HOME}",
    "${UNSET_FUZZ_VAR}",
    "$$",
    "${",
    "$",
    "'",
    '"',
    "\\",
]
text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=12),
    st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=4).map("".join),
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
    st.datetimes(max_value=datetime.datetime(9999, 1, 1)),
    st.dates(),
    st.times(),
)
keys = st.one_of(st.text(max_size=8), st.sampled_from(["cmd", "path", "timeout", "a", "A", "é"]))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)
signal_names = st.sampled_from(
    [s.name for s in signal.Signals] + ["TERM", "term", "SIGFOO", "", "KILL", "sigterm"]
)
signal_values = st.one_of(signal_names, st.integers(min_value=-5, max_value=80), values)
commands = st.one_of(
    st.sampled_from(["sleep 1", "true", "sh -c 'exit 3'", "'unterminated", "", "   ", "a\0b"]),
    st.lists(
        st.sampled_from(["sleep", "1", "", "$(tuiman.wid)", "x\0y", "$(tuiman.sockets.web)"]),
        max_size=3,
    ),
    values,
)


WATCHER_KEYS = [
    # (user and group: not keys, the uid/gid names looked up again at start)
    *(
        set(WatcherConfig.__dataclass_fields__)
        - {"name", "restart", "output", "hooks", "user", "group"}
    ),
    "args",
    "unknown_key",
    "numprocess",
]
RESTART_KEYS = [*RestartConfig.__dataclass_fields__, "bogus"]
OUTPUT_KEYS = [*OutputConfig.__dataclass_fields__, "bogus"]
ARBITER_KEYS = [*ArbiterConfig.__dataclass_fields__, "bogus"]
SOCKET_KEYS = [*(set(SocketConfig.__dataclass_fields__) - {"name"}), "bogus"]
RLIMIT_NAMES = ["nofile", "core", "nproc", "as", "bogus", "NOFILE"]


small_numbers = st.integers(0, 5) | st.floats(0, 5, allow_nan=False)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "numprocesses": st.integers(0, 3),
    "priority": st.integers(-5, 5),
    "graceful_timeout": small_numbers,
    "warmup_delay": small_numbers,
    "max_age": small_numbers,
    "max_age_variance": small_numbers,
    "max_retry": st.integers(-1, 5),
    "respawn": st.sampled_from([True, False, "on-failure"]),
    "success_exit_codes": st.lists(st.integers(0, 255), max_size=3),
    "args": st.lists(st.sampled_from(["1", "-x", "$(tuiman.wid)"]), max_size=2) | st.just("10"),
    "stop_children": st.booleans(),
    "autostart": st.booleans(),
    "singleton": st.booleans(),
    "shell": st.booleans(),
    "copy_env": st.booleans(),
}


def watcher_value(key: str, hook_paths: list[str], root: Path) -> st.SearchStrategy[Any]:
    """Mostly plausible values (to get past the first check), often anything at all."""
    if key in PLAUSIBLE:
        return st.one_of(PLAUSIBLE[key], PLAUSIBLE[key], values)
    if key == "cmd":
        return commands
    if key == "stop_signal":
        return signal_values
    if key == "working_dir":
        return st.sampled_from([".", "work", "missing", str(root), "/nonexistent", ""]) | values
    if key == "rlimits":
        return st.dictionaries(
            st.sampled_from(RLIMIT_NAMES), st.integers(-3, 2**40) | st.just("unlimited") | values
        )
    if key == "env":
        return st.dictionaries(st.sampled_from(["A", "PYTHONPATH", "API_TOKEN", "", "1X"]), values)
    if key in ("uid", "gid"):
        return st.sampled_from(["root", "nobody", "no-such-user", 0, 65534, -1]) | values
    return values


@st.composite
def hook_tables(draw: st.DrawFn, hook_paths: list[str]) -> dict[str, Any]:
    names = st.sampled_from([*HOOK_NAMES, "before_strat", ""])
    path = st.sampled_from(hook_paths) | st.sampled_from(hook_paths[:5]) | text
    entry = st.one_of(
        path,
        st.fixed_dictionaries(
            {},
            optional={
                "path": path | values,
                "timeout": small_numbers | values,
                "ignore_failure": values,
                "bogus": values,
            },
        ),
        values,
    )
    return draw(st.dictionaries(names, entry, max_size=3))


@st.composite
def watcher_tables(
    draw: st.DrawFn, hook_paths: list[str], root: Path, plausible: bool
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    if plausible:  # lets the fuzzer get past validation and check what it accepts
        table["cmd"] = draw(st.sampled_from(["sleep 1", ["sleep", "1"], "true"]))
        for key in draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=6, unique=True)):
            table[key] = draw(PLAUSIBLE[key])
        if draw(st.booleans()):
            hook = st.sampled_from(hook_paths[:4])
            table["hooks"] = draw(st.dictionaries(st.sampled_from(HOOK_NAMES), hook, max_size=3))
        return table
    if draw(st.integers(0, 3)):
        table["cmd"] = draw(st.sampled_from(["sleep 1", ["sleep", "1"], "true"]))
    for key in draw(st.lists(st.sampled_from(WATCHER_KEYS), max_size=8, unique=True)):
        table[key] = draw(watcher_value(key, hook_paths, root))
    if draw(st.booleans()):
        table["restart"] = draw(st.dictionaries(st.sampled_from(RESTART_KEYS), values, max_size=3))
    if draw(st.booleans()):
        table["output"] = draw(st.dictionaries(st.sampled_from(OUTPUT_KEYS), values, max_size=3))
    if draw(st.booleans()):
        table["hooks"] = draw(hook_tables(hook_paths))
    return table


@st.composite
def documents(draw: st.DrawFn, hook_paths: list[str], root: Path) -> dict[str, Any]:
    if draw(st.integers(0, 2)) == 0:
        names = st.sampled_from(["web", "worker", "db.primary", "a-b_c"])
        table = watcher_tables(hook_paths, root, plausible=True)
        return {"watchers": draw(st.dictionaries(names, table, max_size=3))}
    names = st.sampled_from(["web", "Web", "WEB", "worker", "a.b", "a b", "", "é", "x" * 80])
    table = watcher_tables(hook_paths, root, plausible=draw(st.booleans()))
    watchers = draw(st.dictionaries(names, table, max_size=3))
    document: dict[str, Any] = {"watchers": watchers}
    if draw(st.booleans()):
        document["tuiman"] = draw(
            st.dictionaries(st.sampled_from(ARBITER_KEYS), values, max_size=3)
        )
    if draw(st.booleans()):
        document["env"] = draw(st.dictionaries(keys, values, max_size=3))
    if draw(st.booleans()):
        document[draw(st.sampled_from(["$schema", "extra", "watcher"]))] = draw(values)
    if draw(st.booleans()):
        socket_values = st.sampled_from(["AF_UNIX", "SOCK_DGRAM", "x.sock", 0, 0o777, -1]) | values
        socket_table = st.dictionaries(st.sampled_from(SOCKET_KEYS), socket_values, max_size=4)
        document["sockets"] = draw(st.dictionaries(names, socket_table | values, max_size=2))
    if draw(st.integers(0, 9)) == 0:  # sometimes the wrong shape altogether
        document["watchers"] = draw(values)
    return document


def check_outcome(text_document: str, root: Path, in_hypothesis: bool = True) -> Config | None:
    environ = {"HOME": "/root", "PATH": "/usr/bin:/bin"}
    try:
        config = load_config_text(
            text_document, root / "tuiman.toml", display_name=LABEL, cwd=root, environ=environ
        )
    except ConfigError as error:
        assert error.errors, "a ConfigError must say what is wrong"
        for line in error.errors:
            assert isinstance(line, str)
            assert "\n" not in line and "\r" not in line, repr(line)
            assert line.startswith(f"{LABEL}: "), line
            assert "Traceback" not in line
        if in_hypothesis:
            event(f"refused with {min(len(error.errors), 3)}+ errors")
        return None
    # What was accepted is usable as is: the core never re-validates (config.py).
    folded = [w.name.casefold() for w in config.watchers]
    assert len(folded) == len(set(folded)), "duplicate names ignoring case were accepted"
    for watcher in config.watchers:
        assert watcher.cmd and all(isinstance(part, str) for part in watcher.cmd)
        assert watcher.numprocesses >= 0
        for number in (watcher.graceful_timeout, watcher.max_age, watcher.warmup_delay):
            assert math.isfinite(number) and number >= 0
        assert signal.Signals(watcher.stop_signal)
        # What the machine lacks fails the watcher at start; check says it in one line each.
        problems = watcher_environment_problems(
            Config(config.source, config.arbiter, (watcher,)), LABEL
        )
        for line in problems:
            assert "\n" not in line and line.startswith(f"{LABEL}: watchers."), line
        if not watcher.working_dir.is_dir():
            assert any(".working_dir: " in line for line in problems), problems
        assert all(
            callable(spec.func) and spec.name in HOOK_NAMES for spec in watcher.hooks.values()
        )
        assert all(
            math.isfinite(spec.timeout) and spec.timeout > 0 for spec in watcher.hooks.values()
        )
    if in_hypothesis:
        event(f"accepted with {len(config.watchers)} watchers")
    return config


@pytest.mark.timeout(120)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_document_gives_a_config_or_one_line_errors(
    fuzz_dir: tuple[Path, str, str], data: st.DataObject
) -> None:
    root, good, broken = fuzz_dir
    hook_paths = [
        f"{good}.ok",
        f"{good}:ok",
        f"{good}.async_ok",
        f"{good}.instance",
        f"{good}:Klass",
        f"{good}.positional",
        f"{good}.NOT_CALLABLE",
        f"{good}.missing",
        f"{broken}.ok",
        "no_such_module_xyz.f",
        "json.dumps",
        "os:system",
        "tuiman.core",
        "..",
        "a.b.c.d.e",
    ]
    document = data.draw(documents(hook_paths, root))
    check_outcome(tomli_w.dumps(document), root)


@pytest.mark.timeout(60)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
)
def test_any_text_gives_a_config_or_one_line_errors(
    fuzz_dir: tuple[Path, str, str], raw: str
) -> None:
    check_outcome(raw, fuzz_dir[0])


@pytest.mark.parametrize(
    "document",
    [
        "a = " + "[" * 3000 + "]" * 3000,
        "a = " + "{b = " * 3000 + "1" + "}" * 3000,
        '[watchers.w]\ncmd = "x"\nenv = { X = ' + "[" * 600 + "]" * 600 + " }",
        "[" + "a." * 5000 + "b]",
    ],
    ids=["arrays", "inline-tables", "env-array", "dotted-header"],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, document: str) -> None:
    check_outcome(document, tmp_path, in_hypothesis=False)
