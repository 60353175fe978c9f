"""Running an instance: watchdog first, then config, then the core with a headless or UI front."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys

from tuiman.console import say
from tuiman.control.endpoint import ControlEndpoint
from tuiman.control.paths import ControlSetupError
from tuiman.control.server import ControlServer, claim_instance, serving
from tuiman.core.config.loader import ConfigError
from tuiman.core.config.model import Config
from tuiman.core.configfile import load_config
from tuiman.core.processes.cgroups import CgroupTree
from tuiman.core.processes.watchdog import (
    MARKER_ENV,
    Watchdog,
    set_child_subreaper,
)
from tuiman.core.signal_delivery import handle_signal
from tuiman.core.startup_trace import mark as mark_startup
from tuiman.core.supervision.arbiter import Arbiter, raise_nofile_limit
from tuiman.core.supervision.sockets import SocketBindError, SocketTable
from tuiman.headless import make_printer, stderr_line
from tuiman.launch.early import EarlyStart
from tuiman.launch.exit_on import FirstExit
from tuiman.launch.systemd_notify import claim_environment, start_notifying
from tuiman.load_arguments import load_options_from

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def run_tuiman(options: argparse.Namespace, early: EarlyStart) -> int:
    # The watchdog was started, and the cgroup subtree set up, while tuiman imported
    # (launch/early.py).
    marker, watchdog = early.marker, early.watchdog
    cgroups = early.cgroups()
    mark_startup("cgroups (waited for)")
    try:
        if isinstance(cgroups, CgroupTree):
            watchdog.leave_cgroup = cgroups.base
            watchdog.kill_cgroup(cgroups.root)
        else:
            stderr_line(f"cgroups: off ({cgroups}): escapees are found by their environment only")
            cgroups = f"off: {cgroups}"
        claim_environment()  # before the config copies the environment: no child sees them
        try:
            config = load_config(options.config, options=load_options_from(options))
        except ConfigError as error:
            for line in error.errors:
                say(line, prefix="")
            return EXIT_USAGE
        mark_startup("config load")
        for warning in config.warnings:
            stderr_line(f"warning: {warning}")
        headless = options.headless or options.run is not None or options.json
        headless = headless or options.exit_on is not None
        if not headless and not sys.stdout.isatty():
            stderr_line("stdout is not a terminal: running headless")
            headless = True
        try:
            endpoint = claim_instance(config)  # before anything starts: one instance per config
        except ControlSetupError as error:
            stderr_line(str(error))
            return EXIT_USAGE
        sockets = SocketTable()
        try:
            # Before the loop runs (a host name may be resolved): a port in use is exit 2.
            sockets.bind_all(config.sockets)
        except SocketBindError as error:
            endpoint.close()
            say(f"{config.source}: {error}", prefix="")
            return EXIT_USAGE
        mark_startup("control socket claim, sockets")
        try:
            set_child_subreaper()
            raise_nofile_limit()
            if not headless:
                from tuiman.launch.session import run_tui  # Textual is imported only on this path

                def control(arbiter: Arbiter) -> contextlib.AbstractAsyncContextManager[object]:
                    return serving(arbiter, endpoint)

                return asyncio.run(
                    run_tui(
                        config,
                        watchdog,
                        marker,
                        services=control,
                        cgroups=cgroups,
                        sockets=sockets,
                    )
                )
            return asyncio.run(
                run_headless(config, options, watchdog, marker, endpoint, cgroups, sockets)
            )
        finally:
            sockets.close_all()
            endpoint.close()
    finally:
        if isinstance(cgroups, CgroupTree):
            # What is left in the subtree now: a hook's subprocess, an early fork of a child.
            cgroups.close()
        watchdog.close()
        watchdog.wait(1.0)


async def run_headless(
    config: Config,
    options: argparse.Namespace,
    watchdog: Watchdog,
    marker: str,
    endpoint: ControlEndpoint,
    cgroups: CgroupTree | str = "off: not set up",
    sockets: SocketTable | None = None,
) -> int:
    mark_startup("event loop")
    arbiter = Arbiter(config, watchdog=watchdog, marker=marker, cgroups=cgroups, sockets=sockets)
    arbiter.bind()
    first_exit = FirstExit(arbiter) if options.exit_on == "first" else None
    control = ControlServer(arbiter, endpoint)
    await control.start()
    printer = make_printer(arbiter, options.json, not options.no_output, sys.stdout)
    printer.start()
    systemd = start_notifying(arbiter, wait_ready)
    forward_to: list[subprocess.Popen[bytes]] = []
    return_code: int | None = None  # with --exit-on first: the first exit's
    install_signal_handlers(arbiter, forward_to)
    mark_startup("arbiter, control server, printer")
    start_task = asyncio.get_running_loop().create_task(arbiter.start())
    try:
        if options.run is not None:
            code = await run_when_ready(arbiter, options.run, options.ready_timeout, forward_to)
        else:
            waits = [arbiter.quit_requested.wait(), arbiter.all_done.wait()]
            if first_exit is not None:
                waits.append(first_exit.happened.wait())
            await first_of(*waits)
            code = EXIT_FAILURE if arbiter.failures else EXIT_OK
            if first_exit is not None and first_exit.happened.is_set():
                stderr_line(f"--exit-on first: {first_exit.description}: stopping everything")
                return_code = first_exit.code
    finally:
        start_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await start_task
        await arbiter.quit()
        if systemd is not None:
            await systemd.close()
        await control.close()
        await printer.close()
    if options.run is None and arbiter.failures:
        code = EXIT_FAILURE
    if options.run is None and return_code is not None:
        code = return_code  # the first exit's code, whatever followed it (said above)
    elif options.run is None and arbiter.failures:
        stderr_line(failure_summary(arbiter.failures))
    return code


def failure_summary(failures: list[str]) -> str:
    """The one line headless ends with when it exits 1: the first failure, and how many more."""
    more = len(failures) - 1
    others = f" (and {more} more failure{'s' if more != 1 else ''} above)" if more else ""
    return f"exit 1: {failures[0]}{others}"


def install_signal_handlers(arbiter: Arbiter, forward_to: list[subprocess.Popen[bytes]]) -> None:
    loop = asyncio.get_running_loop()
    stop_signals_seen = 0

    def on_stop_signal(signum: int) -> None:
        nonlocal stop_signals_seen
        if forward_to and forward_to[0].returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(forward_to[0].pid, signum)
            return
        stop_signals_seen += 1
        # The action first, the notice after: stderr may be gone, and a notice that cannot be
        # written must never cost the stop (stderr_line does not raise; the order is a second
        # line of defence).
        if stop_signals_seen == 1:
            arbiter.request_quit()
            stderr_line(
                f"{signal.Signals(signum).name}: stopping everything (again to kill at once)"
            )
        else:
            arbiter.force()
            stderr_line("second stop signal: killing every process now")

    reloads: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps weak refs)

    def on_hangup() -> None:
        # Headless: SIGHUP means "reload the config" (docs/supervision.md#commands).
        async def reload() -> None:
            applied, lines = await arbiter.reload_config()
            for line in lines:
                stderr_line(f"reload: {line}" if applied else f"reload refused: {line}")

        reloads.add(task := loop.create_task(reload()))
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGINT, signal.SIGTERM):
        handle_signal(loop, signum, on_stop_signal, signum)
    handle_signal(loop, signal.SIGHUP, on_hangup)
    handle_signal(loop, signal.SIGUSR1, arbiter.reopen_logs)


async def first_of(*awaitables: object) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_when_ready(
    arbiter: Arbiter, command: str, ready_timeout: float, forward_to: list[subprocess.Popen[bytes]]
) -> int:
    problem = await wait_ready(arbiter, ready_timeout)
    if problem is not None:
        stderr_line(f"services never became ready: {problem}")
        return EXIT_FAILURE
    if arbiter.quit_requested.is_set():
        return EXIT_FAILURE
    # Marked and tracked like a managed process: if tuiman dies, the watchdog ends it too.
    child = subprocess.Popen(
        ["/bin/sh", "-c", command], process_group=0, env={**os.environ, MARKER_ENV: arbiter.marker}
    )
    arbiter.track_group(child.pid)
    forward_to.append(child)
    try:
        status = await wait_child(child)
    finally:
        arbiter.untrack_group(child.pid)
    return 128 - status if status < 0 else status


async def wait_ready(arbiter: Arbiter, timeout: float) -> str | None:
    """THE definition of "this instance is ready" (docs/readiness.md#when-is-tuiman-ready): None
    once every autostart watcher is ready, else why not (a failure, a block, the timeout)."""
    from tuiman.core.supervision.ready_check import wait_ready as wait_ready_in_core

    return await wait_ready_in_core(arbiter, timeout)


async def wait_child(child: subprocess.Popen[bytes]) -> int:
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(child.pid)
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return child.wait()
