"""`--run`'s exit code, guarded (docs/headless.md#exit-codes): a thin parent process that the
caller waits on, and a child that is tuiman.

tuiman's own process runs user code (hooks), so it can end without a word: `os._exit(0)` in a
hook, SIGKILL, the OOM killer. Its exit status then says nothing about the `--run` command, and
0 would claim a success that never happened. So with `--run` the process the caller waits on is
not the one running user code: it forks tuiman as its child, forwards the stop, reload and log
signals to it, and exits with the result tuiman recorded on a pipe once its run was over — or,
if tuiman ended without recording one, with EXIT_UNFINISHED (125) and a line saying how it
ended. The parent imports nearly nothing and only waits; if it is SIGKILLed itself, the child
gets SIGKILL too (a parent-death signal), and tuiman's watchdog stops everything as after any
SIGKILL of tuiman.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
from collections.abc import Callable, Iterable
from typing import NoReturn

from tuiman.console import say, settle

EXIT_UNFINISHED = 125  # tuiman ended before its --run finished (as `env` and `timeout` use it)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)
EXIT_GRACE = 2.0  # seconds the child may take to exit after recording its result
_PR_SET_PDEATHSIG = 1


def run_guarded(run: Callable[[], int]) -> NoReturn:
    """Run `run()` in a child process; exit with the child's recorded result, else with
    EXIT_UNFINISHED. Both processes end here, with os._exit: call it only from `main`."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    # Blocked across the fork: a signal in between is held for the parent to forward.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _become_child(parent, previous)
        _run_and_record(run, write_end)
    os.close(write_end)
    with contextlib.suppress(OSError):  # also here: no window where the child is in our group
        os.setpgid(pid, pid)
    code = _wait_for(pid, read_end, previous)
    settle()
    os._exit(code)  # the parent has nothing to tear down; its caller is waiting


def _become_child(parent: int, mask: Iterable[int]) -> None:
    # Its own process group: a ^C from the terminal reaches the parent only, which forwards it
    # once (in one group, tuiman would see it twice: a "second" stop signal).
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _run_and_record(run: Callable[[], int], write_end: int) -> NoReturn:
    code = run()  # an exception records nothing: the parent reports EXIT_UNFINISHED
    settle()
    with contextlib.suppress(OSError):
        os.write(write_end, b"%d\n" % code)
    # Everything is stopped and flushed: no interpreter teardown (a thread a hook left behind
    # cannot hold the exit up, and the caller gets its code ~20 ms sooner).
    os._exit(code)


def _wait_for(pid: int, read_end: int, mask: Iterable[int]) -> int:
    pidfd = os.pidfd_open(pid)
    try:
        for signum in FORWARDED:
            signal.signal(signum, lambda sig, _frame: _forward(pidfd, sig))
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # held signals are forwarded now
        record = _read_record(read_end, pidfd)
        exited = bool(select.select([pidfd], [], [], EXIT_GRACE if record else None)[0])
        status = os.waitpid(pid, 0)[1] if exited else None
    finally:
        for signum in FORWARDED:
            signal.signal(signum, signal.SIG_DFL)
        os.close(pidfd)
    if record is not None:
        return record
    say(f"ended before its --run finished ({_describe(status)}); exit code {EXIT_UNFINISHED}")
    return EXIT_UNFINISHED


def _forward(pidfd: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        signal.pidfd_send_signal(pidfd, signum)


def _read_record(read_end: int, pidfd: int) -> int | None:
    """The child's recorded exit code, or None once it exited without one."""
    data = b""
    watched = [read_end, pidfd]
    while b"\n" not in data:
        ready = select.select(watched, [], [])[0]
        if read_end in ready:
            chunk = os.read(read_end, 64)
            data += chunk
            if not chunk:  # EOF: nothing more will come, wait for the exit alone
                watched = [pidfd]
        elif pidfd in ready:
            # Exited: whatever it wrote is in the pipe already (a hook's helper process may
            # still hold the write end, so EOF is not awaited).
            os.set_blocking(read_end, False)
            with contextlib.suppress(BlockingIOError):
                data += os.read(read_end, 64)
            break
    text = data.split(b"\n", 1)[0]
    return int(text) if b"\n" in data and text.lstrip(b"-").isdigit() else None


def _describe(status: int | None) -> str:
    if status is None:
        return "still exiting"
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        return f"killed by {name}"
    return f"its process exited with status {os.waitstatus_to_exitcode(status)}"
