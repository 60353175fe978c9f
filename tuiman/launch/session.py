"""A full-screen session: the arbiter and the app on one asyncio loop (docs/ui.md,
docs/reliability.md).

Whatever happens to the UI — a normal quit, an exception in UI code, the terminal going away —
every managed process is stopped before this returns, and a crash's traceback goes to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tuiman.client.local import LocalClient
from tuiman.console import say
from tuiman.core.config.model import Config
from tuiman.core.processes.cgroups import CgroupTree
from tuiman.core.processes.watchdog import Watchdog
from tuiman.core.signal_delivery import handle_signal
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.sockets import SocketTable
from tuiman.ui.app import TuimanApp
from tuiman.ui.crash import write_crash_report
from tuiman.ui.hangup import detach_from_terminal, release_stdin, terminal_gone

EXIT_OK, EXIT_CRASH = 0, 1
GC_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)


Services = Callable[[Arbiter], AbstractAsyncContextManager[object]]


async def run_tui(
    config: Config,
    watchdog: Watchdog | None,
    marker: str,
    *,
    services: Services | None = None,
    headless: bool = False,
    cgroups: CgroupTree | str = "off: not set up",
    sockets: SocketTable | None = None,
) -> int:
    """Run the app until it quits; `services(arbiter)` (e.g. the control socket) runs alongside."""
    arbiter = Arbiter(config, watchdog=watchdog, marker=marker, cgroups=cgroups, sockets=sockets)
    arbiter.bind()
    app = TuimanApp(LocalClient(arbiter), start_core=arbiter.start)
    install_signal_handlers(app, arbiter)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if services is not None:
                await stack.enter_async_context(services(arbiter))
            crash = await run_app(app, arbiter, headless)
            crash_path = app.crash_path
            if crash is not None and crash_path is None:
                crash_path = write_crash_report(crash)
            if crash_path is not None:
                say(f"the UI crashed; the traceback is in {crash_path}")
            if not arbiter.stopped.is_set():
                say("stopping every process (ctrl+c again kills them at once)")
            await arbiter.quit()
    finally:
        remove_signal_handlers()
    if isinstance(crash, KeyboardInterrupt | SystemExit):
        raise crash
    return EXIT_CRASH if crash_path is not None else EXIT_OK


async def run_app(app: TuimanApp, arbiter: Arbiter, headless: bool) -> BaseException | None:
    """The app's whole run; an exception escaping Textual is returned, not raised."""
    loop = asyncio.get_running_loop()
    helpers = [loop.create_task(follow_core_quit(app, arbiter)), loop.create_task(tune_gc(app))]
    try:
        await app.run_async(headless=headless)
    except BaseException as error:  # the app itself failed: everything is still stopped after
        return error
    finally:
        for helper in helpers:
            helper.cancel()
    return None


async def tune_gc(app: TuimanApp) -> None:
    """Keep the garbage collector from pausing the UI.

    With 10 000 events a second, the default thresholds run a full collection every couple of
    seconds over ~200 000 long-lived objects (Textual's and the core's): pauses of 100-200 ms,
    ~8 % of a core. Objects alive once the UI is up are frozen out of collections, and young
    collections run ten times less often (measured: pauses under 40 ms, ~1 % of a core).
    """
    previous = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, 20, 10)
    try:
        await app.ready.wait()
        gc.freeze()
        await asyncio.Event().wait()  # until the app is done (cancelled by run_app)
    finally:
        gc.unfreeze()
        gc.set_threshold(*previous)


async def follow_core_quit(app: TuimanApp, arbiter: Arbiter) -> None:
    """A quit the UI did not ask for (ctl quit, a hook, a signal): show it, then leave."""
    await arbiter.quit_requested.wait()
    if app.is_running:
        app.call_later(app.begin_quit)
    await arbiter.stopped.wait()
    release_stdin()  # after a hangup, Textual's input thread may be blocked reading it
    if app.is_running:
        app.exit(0)


def install_signal_handlers(app: TuimanApp, arbiter: Arbiter) -> None:
    loop = asyncio.get_running_loop()
    stop_signals_seen = 0

    def on_stop_signal() -> None:
        nonlocal stop_signals_seen
        stop_signals_seen += 1
        if app.is_running:
            app.call_later(app.stop_signal)  # never asks; a second one kills at once
        elif stop_signals_seen == 1:
            arbiter.request_quit()
        else:
            arbiter.force()

    def on_hangup(signum: int, frame: object) -> None:
        # A plain signal handler, not the loop's: it must run before Textual's SIGCONT one.
        if terminal_gone():
            detach_from_terminal(app)
            loop.call_soon_threadsafe(arbiter.request_quit)  # nobody is looking: stop, exit
        else:
            loop.call_soon_threadsafe(reload_config, app)

    for signum in (signal.SIGINT, signal.SIGTERM):
        handle_signal(loop, signum, on_stop_signal)
    handle_signal(loop, signal.SIGUSR1, arbiter.reopen_logs)
    signal.signal(signal.SIGHUP, on_hangup)


def remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
        loop.remove_signal_handler(signum)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def reload_config(app: TuimanApp) -> None:
    """SIGHUP while the terminal still answers: reload the config, as headless does
    (docs/supervision.md#commands)."""
    if app.is_running:
        app.notify("SIGHUP: reloading the config", timeout=3)
        app.command("reload config", app.client.reload_config)
