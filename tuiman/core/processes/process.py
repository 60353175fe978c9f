"""One managed child process: spawn, output pumping and event-driven exit detection
(docs/supervision.md#spawn).

Spawning uses `subprocess.Popen` (vfork fast path, no Python between fork and exec), or for a
plain spawn `posix_spawn` on the spawner thread (`spawner`), in a new
session. Exit is detected through a pidfd registered with the loop and collected with
`waitid(P_PIDFD)`, so no thread per child and never `waitpid(-1)`. Output pipes are read with
non-blocking chunked reads; exit detection never depends on them closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from tuiman.core.processes.cgroups import WatcherCgroup
from tuiman.core.processes.output import LineSplitter
from tuiman.core.processes.process_input import InputWriter
from tuiman.core.processes.spawner import PlainSpawn, SpawnedChild, plain_spawner
from tuiman.core.processes.terminal import TerminalMaster, open_pty, take_controlling_terminal
from tuiman.core.startup_trace import mark as mark_startup
from tuiman.core.startup_trace import mark_last as mark_startup_last
from tuiman.core.states import ProcessState

READ_CHUNK = 65536
STATUS_LOST_RETURNCODE = 255  # Popen's own bookkeeping only: tuiman reports the exit as unknown
# Bound on one process' reads per loop iteration, so a flood cannot starve everything else.
MAX_READS_PER_WAKE = 4
HOLD_POLL = 0.005  # seconds between looks at a log writer that is behind
# Longest a process' output is held at once: a disk that hangs costs lines, never a hung child.
HOLD_MAX = 1.0

OutputCallback = Callable[["ManagedProcess", str, list[tuple[str, bool]]], None]
ExitCallback = Callable[["ManagedProcess"], None]
TerminalCallback = Callable[["ManagedProcess", str], None]


@dataclass(frozen=True, slots=True)
class SpawnSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    uid: int | None = None
    gid: int | None = None
    rlimits: Mapping[str, int] | None = None
    executable: str | None = None  # argv[0] already looked up on PATH (None: let Popen do it)
    cgroup: WatcherCgroup | None = None  # moved in right after the spawn
    pass_fds: tuple[int, ...] = ()  # inherited under the same numbers (the watcher's sockets)
    stdin: int | None = None  # the child's stdin (a socket's fd); default /dev/null
    terminal_size: tuple[int, int] | None = None  # (rows, cols) of its own pty; None: pipes
    stdin_pipe: bool = False  # a writable stdin instead of /dev/null (no pty)
    umask: int | None = None  # None: inherit tuiman's


class SpawnFailed(Exception):
    """The child could not be set up between fork and exec (a limit or an id the kernel refused)."""


def _child_setup(spec: SpawnSpec, report_fd: int) -> Callable[[], None]:
    """Limits first, then the ids: dropping to another user first would take away the right to
    raise a hard limit. The only Python that runs between fork and exec, and only for watchers
    with rlimits. What failed is written to `report_fd`: Popen only says "preexec_fn failed"."""
    steps: list[tuple[str, Callable[[], None]]] = []
    if spec.terminal_size is not None:
        steps.append(("its terminal as controlling terminal", take_controlling_terminal))
    for name, value in (spec.rlimits or {}).items():
        limit_id = getattr(resource, f"RLIMIT_{name.upper()}")
        shown = "unlimited" if value == resource.RLIM_INFINITY else str(value)
        steps.append(
            (f"rlimit {name} = {shown}", partial(resource.setrlimit, limit_id, (value, value)))
        )
    if spec.gid is not None:
        steps.append((f"gid {spec.gid}", partial(os.setregid, spec.gid, spec.gid)))
    if spec.uid is not None:
        steps.append((f"uid {spec.uid}", partial(os.setreuid, spec.uid, spec.uid)))

    def apply() -> None:
        for what, step in steps:
            try:
                step()
            except BaseException as error:
                with contextlib.suppress(BaseException):
                    os.write(report_fd, f"could not set {what}: {error}".encode()[:1000])
                raise

    return apply


def poll_pidfd_exit(pidfd: int) -> tuple[bool, os.waitid_result | None]:
    """(exited, status) of the child behind `pidfd`, without waiting. The status is None when
    the child was reaped behind our back (a hook's `waitpid(-1)`): it is lost, not made up."""
    try:
        result = os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
    except ChildProcessError:
        return True, None
    return result is not None, result


def exit_code_from_waitid(result: os.waitid_result) -> int:
    if result.si_code == os.CLD_EXITED:
        return result.si_status
    return -result.si_status  # CLD_KILLED / CLD_DUMPED carry the signal number


class ManagedProcess:
    """A running (or just exited) child, owned by one watcher slot."""

    def __init__(
        self,
        spec: SpawnSpec,
        wid: int,
        loop: asyncio.AbstractEventLoop,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        on_terminal: TerminalCallback | None = None,
    ) -> None:
        self.wid = wid
        self.state = ProcessState.RUNNING
        # None while it runs, and also after an exit whose status someone else collected (a
        # hook's waitpid(-1)): `alive` is what says whether it still runs.
        self.exit_code: int | None = None
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.exited_monotonic: float | None = None
        # Monotonic time of the last stop/kill/signal tuiman sent (for the tuiman-caused rule).
        self.tuiman_signal_at: float | None = None
        self.stop_requested = False
        self.replace = False  # respawn its slot after a tuiman-caused stop (kill, max_age)
        self.group_survivors = False
        self._loop = loop
        self._on_output = on_output
        self._on_exit = on_exit
        # Where typed or sent input goes (docs/terminals.md#sending-input), and the pty's
        # master for a process with its own terminal.
        self.input: InputWriter | None = None
        self.terminal: TerminalMaster | None = None
        terminal_fds = open_pty(*spec.terminal_size) if spec.terminal_size is not None else None
        mark_startup("to the first spawn")
        try:
            self._popen = _popen(spec, terminal_fds[1] if terminal_fds else None)
        except BaseException:
            if terminal_fds is not None:
                os.close(terminal_fds[0])
            raise
        finally:
            if terminal_fds is not None:
                os.close(terminal_fds[1])  # the child holds the slave now
        self.pid = self._popen.pid
        mark_startup_last("first Popen")
        if spec.cgroup is not None:
            spec.cgroup.add(self.pid)  # first thing: what it forks from now on stays inside
        self.pgid = self.pid  # new session: the child leads its own group
        try:
            self.exited: asyncio.Future[int | None] = loop.create_future()
            self._pidfd = os.pidfd_open(self.pid)
        except BaseException:
            # Spawned but not watchable (no fd left for its pidfd): it must not run unsupervised.
            self._popen.kill()
            self._popen.wait()  # SIGKILLed: collected within microseconds
            for pipe in (self._popen.stdin, self._popen.stdout, self._popen.stderr):
                if pipe is not None:
                    pipe.close()
            if terminal_fds is not None:
                os.close(terminal_fds[0])
            raise
        self._open_streams: dict[int, tuple[str, LineSplitter]] = {}
        self._held = False  # not reading its pipes for now: see `hold_output`
        self._closing = False
        if terminal_fds is not None:
            self._watch_terminal(terminal_fds[0], on_terminal)
        elif self._popen.stdin is not None:
            stdin_fd = self._popen.stdin.fileno()
            os.set_blocking(stdin_fd, False)
            self.input = InputWriter(stdin_fd, loop, owns_fd=False)
        for stream_name, pipe in (("stdout", self._popen.stdout), ("stderr", self._popen.stderr)):
            if pipe is None:
                continue
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            self._open_streams[fd] = (stream_name, LineSplitter())
            loop.add_reader(fd, self._read_stream, fd)
        loop.add_reader(self._pidfd, self._on_pidfd_ready)

    # -- output -------------------------------------------------------------------------------
    def _watch_terminal(self, master: int, on_terminal: TerminalCallback | None) -> None:
        def text(data: str) -> None:
            if on_terminal is not None:
                on_terminal(self, data)

        def lines(reduced: list[tuple[str, bool]]) -> None:
            self._on_output(self, "stdout", reduced)

        self.terminal = TerminalMaster(master, self._loop, text, lines)
        self.input = InputWriter(master, self._loop, owns_fd=False)

    def _read_stream(self, fd: int) -> None:
        stream_name, splitter = self._open_streams[fd]
        for _ in range(MAX_READS_PER_WAKE):
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close_stream(fd)
                return
            lines = splitter.feed(chunk)
            if lines:
                self._on_output(self, stream_name, lines)
            if len(chunk) < READ_CHUNK or (self._held and not self._closing):
                return

    def hold_output(self, held: Callable[[], bool]) -> None:
        """Stop reading the pipes while ``held()`` is true (the log files' writer is behind),
        for at most `HOLD_MAX`: the child waits on its full pipe, as with a manager that writes
        synchronously, instead of its lines being dropped."""
        if self._held or self._closing or not self._open_streams:
            return
        self._held = True
        for fd in self._open_streams:
            self._loop.remove_reader(fd)
        deadline = self._loop.time() + HOLD_MAX

        def look() -> None:
            if self._open_streams and held() and self._loop.time() < deadline:
                self._loop.call_later(HOLD_POLL, look)
                return
            self._held = False
            for fd in self._open_streams:
                self._loop.add_reader(fd, self._read_stream, fd)

        self._loop.call_later(HOLD_POLL, look)

    def _close_stream(self, fd: int) -> None:
        stream_name, splitter = self._open_streams.pop(fd)
        self._loop.remove_reader(fd)
        rest = splitter.flush()
        if rest:
            self._on_output(self, stream_name, rest)
        pipe = self._popen.stdout if stream_name == "stdout" else self._popen.stderr
        if pipe is not None:
            pipe.close()

    def close_streams(self) -> None:
        """Drain what is buffered and close both pipes (a grandchild may still hold them), the
        input and the terminal's master."""
        self._closing = True
        for fd in list(self._open_streams):
            with contextlib.suppress(OSError):
                self._read_stream(fd)
            if fd in self._open_streams:
                self._close_stream(fd)
        if self.input is not None:
            self.input.close()
            if self._popen.stdin is not None:
                with contextlib.suppress(OSError):
                    self._popen.stdin.close()
        if self.terminal is not None:
            with contextlib.suppress(OSError):
                self.terminal.drain()
            self.terminal.close()

    @property
    def streams_open(self) -> bool:
        return bool(self._open_streams) or (self.terminal is not None and self.terminal.reading)

    # -- exit ---------------------------------------------------------------------------------
    def _on_pidfd_ready(self) -> None:
        exited, result = poll_pidfd_exit(self._pidfd)
        if not exited:
            return  # spurious wake-up
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        # Checked right after the reap: a zombie leader would itself count as a member, and a
        # sequential pid allocator makes reuse of the group id within microseconds unrealistic.
        self.group_survivors = group_has_members(self.pgid)
        # A status collected behind our back is unknown, never a made-up code.
        code = exit_code_from_waitid(result) if result is not None else None
        # Any int keeps Popen from ever waiting on this (maybe recycled) pid again.
        self._popen.returncode = code if code is not None else STATUS_LOST_RETURNCODE
        self.exit_code = code
        self.state = ProcessState.EXITED
        self.exited_monotonic = time.monotonic()
        self.exited.set_result(code)
        self._on_exit(self)

    @property
    def alive(self) -> bool:
        return self.exited_monotonic is None

    def send_signal(self, signum: int) -> bool:
        """Signal the leader through its pidfd (never a recycled pid). False if it is gone."""
        if self._pidfd < 0:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, signum)
        except ProcessLookupError:
            return False
        return True

    def signal_group(self, signum: int) -> bool:
        """Signal the process group, only while it still has members."""
        if self.alive:
            # The living leader pins the group id.
            return killpg_quiet(self.pgid, signum)
        return group_has_members(self.pgid) and killpg_quiet(self.pgid, signum)

    def age(self) -> float:
        end = self.exited_monotonic if self.exited_monotonic is not None else time.monotonic()
        return end - self.started_monotonic


def _popen(spec: SpawnSpec, terminal_slave: int | None) -> subprocess.Popen[bytes] | SpawnedChild:
    """Popen in a new session; with rlimits, the child sets them (and then its ids) itself and
    reports what the kernel refused, raised as `SpawnFailed`. With a terminal, the slave is its
    0/1/2 and the child makes it its controlling terminal (the same set-up step)."""
    setup = bool(spec.rlimits) or terminal_slave is not None
    program = spec.executable or (spec.argv[0] if "/" in spec.argv[0] else None)
    plain = not setup and not spec.stdin_pipe and spec.stdin is None and not spec.pass_fds
    plain = plain and spec.uid is None and spec.gid is None
    if plain and program is not None and (spawner := plain_spawner()):
        return spawner.spawn(PlainSpawn(spec.argv, spec.env, spec.cwd, program, spec.umask))
    report_read, report_write = os.pipe2(os.O_CLOEXEC) if setup else (-1, -1)
    stdin: int = subprocess.PIPE if spec.stdin_pipe else devnull_fd()
    if spec.stdin is not None:
        stdin = spec.stdin  # a socket (the config refuses it with a pty or a stdin pipe)
    output: int = subprocess.PIPE
    if terminal_slave is not None:
        stdin = output = terminal_slave
    try:
        return subprocess.Popen(
            list(spec.argv),
            bufsize=0,  # tuiman reads the fds itself: no 8 KiB buffer per pipe (16 KiB a child)
            executable=spec.executable,
            stdin=stdin,
            stdout=output,
            stderr=output,
            cwd=spec.cwd,
            env=dict(spec.env),
            start_new_session=True,
            close_fds=True,
            pass_fds=spec.pass_fds,
            user=None if setup else spec.uid,
            group=None if setup else spec.gid,
            preexec_fn=_child_setup(spec, report_write) if setup else None,
            umask=-1 if spec.umask is None else spec.umask,
        )
    except subprocess.SubprocessError as error:
        report = b""
        if report_write >= 0:
            os.close(report_write)
            report_write = -1
            os.set_blocking(report_read, False)  # a hook's concurrent fork may hold a copy
            with contextlib.suppress(BlockingIOError):
                report = os.read(report_read, 1024)
        raise SpawnFailed(report.decode(errors="replace") or str(error)) from error
    finally:
        for fd in (report_read, report_write):
            if fd >= 0:
                os.close(fd)


_devnull: int | None = None


def devnull_fd() -> int:
    """One read-only /dev/null for every child's stdin (Popen would open one per spawn)."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull


def killpg_quiet(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_has_members(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn_error_text(error: Exception) -> tuple[str, int]:
    """What a spawn error event says: `ENOENT: No such file or directory`, errno 2; any other
    exception as its own text, errno 0."""
    if isinstance(error, SpawnFailed):
        return str(error), 0
    if not isinstance(error, OSError):
        return f"{type(error).__name__}: {error}", 0
    code = error.errno or 0
    name = errno.errorcode.get(code, "") if code else ""
    text = error.strerror or str(error)
    return (f"{name}: {text}" if name else text), code
