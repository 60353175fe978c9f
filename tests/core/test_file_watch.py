"""Restart on change (docs/configuration.md#restart-on-change): real files, real inotify, real
processes. Every test ends with an arbiter quit by the `arbiter_factory` fixture."""

from __future__ import annotations

import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.core import ArbiterFactory, next_event
from tests.support.waiting import wait_until
from tuiman.core.bus import Subscription
from tuiman.core.config.loader import ConfigError
from tuiman.core.configfile import load_config
from tuiman.core.events import Event, Kind
from tuiman.core.payloads import FilesChangedPayload
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

DEBOUNCE = 0.3

HOOKS = """
def ok(**kwargs):
    return True
"""


def watched_config(tmp_path: Path, extra: str = "", debounce: float = DEBOUNCE) -> str:
    (tmp_path / "src" / "pkg").mkdir(parents=True, exist_ok=True)
    module = f"watchhooks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(HOOKS)
    hooks = ", ".join(
        f'{name} = "{module}.ok"'
        for name in ("before_start", "after_start", "before_stop", "after_stop")
    )
    return textwrap.dedent(
        f"""
        [watchers.web]
        cmd = "sleep 300"
        graceful_timeout = 2
        watch = ["src/**/*.py"]
        watch_debounce = {debounce}
        hooks = {{ {hooks} }}
        {extra}
        """
    )


def pids(arbiter: Arbiter) -> set[int]:
    return {pid for pid, process in arbiter.get("web").processes.items() if process.alive}


async def started(factory: ArbiterFactory, toml: str) -> tuple[Arbiter, Subscription]:
    arbiter = factory(toml)
    await arbiter.start()
    assert arbiter.get("web").state == WatcherState.ACTIVE
    await wait_until(lambda: arbiter.file_watch.watching("web"))
    return arbiter, arbiter.bus.subscribe(snapshot=False, name="test")


def changed(event: Event) -> FilesChangedPayload:
    payload: FilesChangedPayload = event.payload  # type: ignore[assignment]
    return payload


async def test_editing_a_watched_file_restarts_within_the_debounce_window(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    arbiter, events = await started(arbiter_factory, watched_config(tmp_path))
    before = pids(arbiter)
    seen: list[Event] = []
    arbiter.bus.add_tap(seen.append)

    written = time.monotonic()
    (tmp_path / "src" / "pkg" / "app.py").write_text("print('v2')\n")
    event = await next_event(events, Kind.FILES_CHANGED, "web")
    latency = time.monotonic() - written
    assert changed(event) == {"paths": ["src/pkg/app.py"], "count": 1, "restart": True}
    # Not before the burst had DEBOUNCE seconds of quiet; well within a generous bound after.
    assert DEBOUNCE <= latency < DEBOUNCE + 5, latency

    await wait_until(lambda: pids(arbiter) and not pids(arbiter) & before)
    await wait_until(lambda: arbiter.get("web").state == WatcherState.ACTIVE)
    after = [e for e in seen if e.seq > event.seq]
    states = [(e.payload["new"], e.payload["reason"]) for e in after if e.kind == Kind.STATE]
    assert states == [
        ("stopping", "file_change"),
        ("stopped", "file_change"),
        ("starting", "file_change"),
        ("active", "file_change"),
    ]
    hooks = [e.payload["name"] for e in after if e.kind == Kind.HOOK_SUCCESS]
    assert hooks == ["before_stop", "after_stop", "before_start", "after_start"]


async def test_a_burst_of_100_writes_restarts_once(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    # A second of quiet: a busy machine pausing this test mid-burst must not split it.
    arbiter, events = await started(arbiter_factory, watched_config(tmp_path, debounce=1.0))
    spawns: list[Event] = []
    arbiter.bus.add_tap(lambda e: spawns.append(e) if e.kind == Kind.SPAWN else None)

    for number in range(100):
        (tmp_path / "src" / "pkg" / f"module{number % 7}.py").write_text(f"VERSION = {number}\n")
    burst = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(burst)["count"] == 7 and changed(burst)["restart"]
    assert len(changed(burst)["paths"]) == 7
    await wait_until(lambda: len(spawns) == 1 and not arbiter.get("web").commands_pending)

    # A later single write restarts again, once: had the burst restarted twice, its second
    # files_changed would come first (the kernel reports changes in order).
    (tmp_path / "src" / "last.py").write_text("x = 1\n")
    single = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(single)["paths"] == ["src/last.py"]
    await wait_until(lambda: len(spawns) == 2 and not arbiter.get("web").commands_pending)


async def test_ignored_and_unmatched_paths_do_not_restart(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    toml = watched_config(tmp_path, 'watch_ignore = ["src/pkg/generated", "*_test.py"]')
    _arbiter, events = await started(arbiter_factory, toml)

    (tmp_path / "src" / "pkg" / "generated").mkdir()
    (tmp_path / "src" / "pkg" / "generated" / "schema.py").write_text("x = 1\n")  # ignored dir
    (tmp_path / "src" / "pkg" / "app_test.py").write_text("x = 1\n")  # ignored name
    (tmp_path / "src" / "pkg" / "notes.txt").write_text("not a .py\n")  # no pattern matches
    (tmp_path / "src" / "pkg" / ".app.py.swp").write_text("swap\n")  # editor file (default)
    (tmp_path / "src" / "pkg" / "__pycache__").mkdir()
    (tmp_path / "src" / "pkg" / "__pycache__" / "app.py").write_text("x\n")  # default ignore
    (tmp_path / "outside.py").write_text("x = 1\n")  # outside the pattern's directory
    (tmp_path / "src" / "pkg" / "real.py").write_text("x = 1\n")  # the one that counts

    event = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(event)["paths"] == ["src/pkg/real.py"]
    assert changed(event)["count"] == 1


async def test_a_watcher_stopped_by_a_command_is_not_restarted(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    arbiter, events = await started(arbiter_factory, watched_config(tmp_path))
    await arbiter.get("web").stop()

    (tmp_path / "src" / "app.py").write_text("x = 2\n")
    event = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(event) == {
        "paths": ["src/app.py"],
        "count": 1,
        "restart": False,
        "skipped": "stopped by a command",
    }
    assert arbiter.get("web").state == WatcherState.STOPPED
    assert not arbiter.get("web").commands_pending


async def test_a_watcher_that_failed_is_restarted_by_a_fix(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    """The dev-server case: a crash loop gives up; saving the fix starts it again."""
    (tmp_path / "src").mkdir()
    script = tmp_path / "src" / "server.py"
    script.write_text("raise SystemExit(3)\n")
    import sys

    arbiter = arbiter_factory(
        textwrap.dedent(
            f"""
            [watchers.web]
            cmd = ["{sys.executable}", "src/server.py"]
            watch = "src/*.py"
            watch_debounce = 0.1
            [watchers.web.restart]
            backoff_initial = 0
            flap_attempts = 1
            flap_max_retry = 0
            """
        )
    )
    await arbiter.start()
    await wait_until(lambda: arbiter.get("web").state == WatcherState.FAILED)
    await wait_until(lambda: arbiter.file_watch.watching("web"))
    script.write_text("import time\ntime.sleep(300)\n")
    await wait_until(lambda: arbiter.get("web").state == WatcherState.ACTIVE)


async def test_a_vanished_directory_is_a_watch_error_not_a_crash(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    (tmp_path / "gone").mkdir()
    arbiter = arbiter_factory('[watchers.web]\ncmd = "sleep 300"\nwatch = "gone/*.py"\n')
    events = arbiter.bus.subscribe(snapshot=False, name="test")
    (tmp_path / "gone").rmdir()
    await arbiter.start()
    event = await next_event(events, Kind.WATCH_ERROR, "web")
    assert str(tmp_path / "gone") in event.payload["error"]
    assert arbiter.get("web").state == WatcherState.ACTIVE


async def test_reloading_new_patterns_keeps_the_processes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path = tmp_path / "tuiman.toml"
    toml = '[watchers.web]\ncmd = "sleep 300"\nwatch = "{}/*.py"\nwatch_debounce = 0.1\n'
    path.write_text(toml.format("a"))
    arbiter = Arbiter(load_config(str(path)))
    arbiter.bind()
    try:
        await arbiter.start()
        before = pids(arbiter)
        path.write_text(toml.format("b"))
        applied, changes = await arbiter.reload_config()
        assert applied and changes == ["web: new watch patterns"]
        assert pids(arbiter) == before
        await wait_until(lambda: arbiter.file_watch.watching("web"))
        events = arbiter.bus.subscribe(snapshot=False, name="test")
        (tmp_path / "a" / "x.py").write_text("old root\n")
        (tmp_path / "b" / "y.py").write_text("new root\n")
        event = await next_event(events, Kind.FILES_CHANGED, "web")
        assert changed(event)["paths"] == ["b/y.py"]
    finally:
        arbiter.force()
        await arbiter.quit()


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ('watch = "nowhere/**/*.py"', "watchers.web.watch[0]: directory {dir}/nowhere does not"),
        ('watch = ["src/a**b.py"]', "watchers.web.watch[0]: 'src/a**b.py': ** must be a whole"),
        ("watch = []", "watchers.web.watch: empty list"),
        ("watch = 3", "watchers.web.watch: expected a string or an array of strings"),
        ('watch = "src/*.py"\nwatch_debounce = -1', "watchers.web.watch_debounce: must be >= 0"),
        ('watch = "src/*.py"\nwatch_ignore = [""]', "watchers.web.watch_ignore[0]: '': empty"),
        ('watch = "src/*.py"\nwatch_debounse = 1', "watchers.web.watch_debounse: unknown key"),
    ],
)
def test_bad_watch_keys_are_one_line_errors(tmp_path: Path, keys: str, error: str) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "tuiman.toml"
    path.write_text(f'[watchers.web]\ncmd = "sleep 1"\n{keys}\n')
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    expected = error.format(dir=tmp_path)
    assert any(expected in line for line in raised.value.errors), raised.value.errors


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        ("/p/src/app.py", True),
        ("/p/src/deep/er/app.py", True),
        ("/p/src/app.pyc", False),
        ("/p/src/gen/app.py", False),  # watch_ignore "src/gen": everything under it
        ("/p/src/x/__snapshots__/a.py", False),  # a bare name, at any depth
        ("/p/src/app_test.py", False),
        ("/p/config.toml", True),  # named: no wildcard
        ("/p/sub/config.toml", False),
        ("/usr/bin/python3", True),  # absolute
    ],
)
def test_patterns_match_like_globs(path: str, counts: bool) -> None:
    from tuiman.core.config.watch_paths import FileWatch, absolute_pattern, ignore_pattern

    base = Path("/p")
    spec = FileWatch(
        tuple(
            absolute_pattern(p, base) for p in ("src/**/*.py", "config.toml", "/usr/bin/python3")
        ),
        tuple(ignore_pattern(p, base) for p in ("src/gen/", "__snapshots__", "*_test.py")),
        0.2,
        base,
    )
    assert spec.matcher().matches(path) is counts
    assert [(str(r.path), r.recursive) for r in spec.roots()] == [
        ("/p", False),
        ("/p/src", True),
        ("/usr/bin", False),
    ]


def test_a_project_under_an_ignored_name_still_counts() -> None:
    """Bare ignore names look below the config's directory, not at the directories above it."""
    from tuiman.core.config.watch_paths import FileWatch, absolute_pattern, ignore_pattern

    base = Path("/home/me/build/app")
    spec = FileWatch((absolute_pattern("*.py", base),), (ignore_pattern("build", base),), 0.2, base)
    assert spec.matcher().matches("/home/me/build/app/main.py")
    assert not spec.matcher().matches("/home/me/build/app/build")


async def test_the_watchers_own_log_files_never_count(
    tmp_path: Path, arbiter_factory: ArbiterFactory
) -> None:
    """`watch = "**"` over the config's directory, with the log file inside it: each restart
    writes to the log, and that must not restart it again (and again)."""
    arbiter = arbiter_factory(
        textwrap.dedent(
            """
            [watchers.web]
            cmd = "sh -c 'echo started; exec sleep 300'"
            watch = "**"
            watch_debounce = 0.1
            output = { file = "logs/web.log", max_bytes = 4096, backup_count = 2 }
            """
        )
    )
    await arbiter.start()
    await wait_until(lambda: arbiter.file_watch.watching("web"))
    events = arbiter.bus.subscribe(snapshot=False, name="test")
    (tmp_path / "app.txt").write_text("v2\n")
    first = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(first)["paths"] == ["app.txt"]
    await next_event(events, Kind.OUTPUT, "web")  # the new process wrote to the log
    await wait_until(lambda: _read(tmp_path / "logs" / "web.log").count("started") == 2)
    (tmp_path / "app.txt").write_text("v3\n")
    second = await next_event(events, Kind.FILES_CHANGED, "web")
    assert changed(second)["paths"] == ["app.txt"]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


_PATTERN_PIECES = st.sampled_from([*"ab*?[]!^\\/.-~ ", "**", "[!", "\0", "é"])


@settings(max_examples=300, deadline=None)
@given(
    watch=st.lists(st.lists(_PATTERN_PIECES, max_size=10).map("".join), max_size=3),
    ignore=st.lists(st.lists(_PATTERN_PIECES, max_size=10).map("".join), max_size=3),
)
def test_any_pattern_is_loaded_or_refused_in_one_line(watch: list[str], ignore: list[str]) -> None:
    """Bad input never crashes the loader (docs/reliability.md#bad-input-never-crashes-tuiman)."""
    import tomli_w

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tuiman.toml"
        table = {"cmd": "sleep 1", "watch": watch, "watch_ignore": ignore}
        path.write_text(tomli_w.dumps({"watchers": {"web": table}}))
        try:
            config = load_config(str(path))
        except ConfigError as error:
            assert error.errors and all("\n" not in line for line in error.errors)
            return
        spec = config.watcher("web").watch
        assert spec is not None
        spec.roots()
        spec.matcher().matches(str(Path(directory) / "a" / "b.py"))
