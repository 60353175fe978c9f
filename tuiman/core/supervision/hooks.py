"""The hook runner (docs/hooks.md): calls user hooks off the core loop, bounded in time and threads.

Sync hooks each get a daemon thread (at most `hook_threads` alive at once, abandoned ones
included); async hooks run on one dedicated hook loop thread. The core loop only awaits a
future, so reaping, the UI and every other watcher keep going while a hook runs. Each call
publishes `hook_started`, then `hook_success` or `hook_failure` (docs/hooks.md#events).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tuiman.core.bus import Bus
from tuiman.core.config.model import HookSpec
from tuiman.core.events import Kind
from tuiman.core.payloads import HookFailurePayload, HookStartedPayload, HookSuccessPayload
from tuiman.core.supervision.hook_output import HookOutputSink, capturing, install_routers
from tuiman.core.supervision.isolated import IsolatedHookFailed, IsolatedHooks

# Hooks whose return value never changes what tuiman does (docs/hooks.md#the-eleven-hooks).
RESULT_IGNORED_HOOKS = frozenset(
    {"before_stop", "after_stop", "after_signal", "before_reap", "after_reap", "extended_stats"}
)
SIGKILL_HOOK_TIMEOUT = 1.0


class HookCallToken:
    """Shared by the facades handed to one call; revoked when the call is abandoned."""

    __slots__ = ("revoked",)

    def __init__(self) -> None:
        self.revoked = False


@dataclass(frozen=True, slots=True)
class HookOutcome:
    proceed: bool  # False: the action the hook guards must not happen
    vetoed: bool
    failed: bool
    error: str | None = None
    result: Any = None


FacadeFactory = Callable[[HookCallToken], tuple[Any, Any]]


class _HookLoopThread:
    """One event loop in its own thread, for async hooks (never the core loop)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._loop.run_forever, name="tuiman-async-hooks", daemon=True
                )
                thread.start()
            return self._loop


class HookRunner:
    def __init__(self, bus: Bus, max_threads: int) -> None:
        self._bus = bus
        self._max_threads = max_threads
        self._threads_alive = 0
        self._threads_lock = threading.Lock()
        self._hook_loop = _HookLoopThread()
        self._abandoned = asyncio.Event()
        self.isolated = IsolatedHooks()
        self.loop_thread_id: int | None = None

    @property
    def threads_alive(self) -> int:
        return self._threads_alive

    async def call(
        self,
        spec: HookSpec,
        watcher_name: str,
        facades: FacadeFactory,
        kwargs: dict[str, Any],
        *,
        timeout: float | None = None,
        result_ignored: bool = False,
        check_after: Callable[[], None] | None = None,
    ) -> HookOutcome:
        """Run one hook on the core loop's behalf and publish its hook event.

        `check_after` runs in the hook's own thread once it returned (e.g. turning what it left
        in its arguments into plain data); if it raises, the call failed.
        """
        token = HookCallToken()
        watcher_facade, arbiter_facade = facades(token)
        call_kwargs = {"watcher": watcher_facade, "arbiter": arbiter_facade, "hook_name": spec.name}
        call_kwargs.update(kwargs)
        limit = spec.timeout if timeout is None else min(timeout, spec.timeout)
        install_routers()
        sink = self._sink(spec, watcher_name, kwargs)
        started = time.monotonic()
        self._publish_started(spec, watcher_name, kwargs, limit)
        try:
            result, truthy = await self._bounded(
                self._dispatch(spec, call_kwargs, sink, check_after), limit
            )
        except TimeoutError:
            token.revoked = True
            error = f"timed out after {limit}s"
            return self._failure(spec, watcher_name, kwargs, started, error, result_ignored)
        except HookAbandoned as abandoned:
            token.revoked = True
            return self._failure(spec, watcher_name, kwargs, started, str(abandoned), True)
        except asyncio.CancelledError:
            token.revoked = True  # the command was cancelled: the hook's result no longer matters
            self._publish(
                spec,
                watcher_name,
                kwargs,
                started,
                vetoed=False,
                error="abandoned: its command was cancelled (the result is ignored)",
                abandoned=True,
            )
            raise
        except BaseException as exc:
            return self._failure(spec, watcher_name, kwargs, started, describe(exc), result_ignored)
        ignored = result_ignored or spec.name in RESULT_IGNORED_HOOKS
        vetoed = not ignored and not truthy
        self._publish(spec, watcher_name, kwargs, started, vetoed=vetoed)
        return HookOutcome(proceed=not vetoed, vetoed=vetoed, failed=False, result=result)

    def _sink(self, spec: HookSpec, watcher_name: str, kwargs: dict[str, Any]) -> HookOutputSink:
        pid = kwargs.get("pid", kwargs.get("process_pid"))
        return HookOutputSink(self._bus, watcher_name, spec.name, pid)

    def abandon_all(self) -> None:
        """A forced quit: every hook call in flight returns at once (its thread is left behind)."""
        self._abandoned.set()

    async def _bounded(self, work: Awaitable[tuple[Any, bool]], limit: float) -> tuple[Any, bool]:
        if self._abandoned.is_set():
            if inspect.iscoroutine(work):
                work.close()
            raise HookAbandoned("skipped: tuiman is being killed")
        work_task = asyncio.ensure_future(work)
        abandon_task = asyncio.ensure_future(self._abandoned.wait())
        budget = HookBudget(limit)
        try:
            while True:
                done, _ = await asyncio.wait(
                    {work_task, abandon_task},
                    timeout=budget.next_wait(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if done or budget.spent():
                    break
        finally:
            abandon_task.cancel()
        if work_task in done:
            return work_task.result()
        work_task.cancel()
        if abandon_task in done:
            raise HookAbandoned("abandoned: tuiman is being killed")
        raise TimeoutError

    def call_inline(
        self,
        spec: HookSpec,
        watcher_name: str,
        facades: FacadeFactory,
        kwargs: dict[str, Any],
        *,
        result_ignored: bool = False,
    ) -> HookOutcome:
        """Run a hook synchronously in the calling (hook) thread: nested signal hooks
        (docs/hooks.md#timeouts-and-threads)."""
        token = HookCallToken()
        watcher_facade, arbiter_facade = facades(token)
        call_kwargs = {"watcher": watcher_facade, "arbiter": arbiter_facade, "hook_name": spec.name}
        call_kwargs.update(kwargs)
        sink = self._sink(spec, watcher_name, kwargs)
        started = time.monotonic()
        self._publish_started(spec, watcher_name, kwargs, spec.timeout, threadsafe=True)
        try:
            if spec.isolated:
                worker = self.isolated.worker(watcher_name)
                _, isolated_call = worker.submit(spec.path, spec.name, call_kwargs, sink)
                try:
                    result, truthy = isolated_call.result(spec.timeout)
                except concurrent.futures.TimeoutError:
                    worker.kill()
                    raise
            elif inspect.iscoroutinefunction(spec.func):
                future = asyncio.run_coroutine_threadsafe(
                    _await_and_judge(spec.func, call_kwargs, sink), self._hook_loop.loop()
                )
                result, truthy = future.result(spec.timeout)
            else:
                with capturing(sink):
                    result = spec.func(**call_kwargs)
                    truthy = _truthy(result)
        except BaseException as exc:
            if isinstance(exc, concurrent.futures.TimeoutError):
                token.revoked = True
                exc_text = f"timed out after {spec.timeout}s"
            else:
                exc_text = describe(exc)
            return self._failure(
                spec, watcher_name, kwargs, started, exc_text, result_ignored, threadsafe=True
            )
        ignored = result_ignored or spec.name in RESULT_IGNORED_HOOKS
        vetoed = not ignored and not truthy
        self._publish(spec, watcher_name, kwargs, started, vetoed=vetoed, threadsafe=True)
        return HookOutcome(proceed=not vetoed, vetoed=vetoed, failed=False, result=result)

    async def _dispatch(
        self,
        spec: HookSpec,
        call_kwargs: dict[str, Any],
        sink: HookOutputSink,
        check_after: Callable[[], None] | None = None,
    ) -> tuple[Any, bool]:
        if spec.isolated:
            return await self._run_isolated(spec, call_kwargs, sink, check_after)
        if inspect.iscoroutinefunction(spec.func):
            future = asyncio.run_coroutine_threadsafe(
                _await_and_judge(spec.func, call_kwargs, sink, check_after),
                self._hook_loop.loop(),
            )
            try:
                return await asyncio.wrap_future(future)
            finally:
                future.cancel()
        return await self._run_in_thread(spec, call_kwargs, sink, check_after)

    async def _run_isolated(
        self,
        spec: HookSpec,
        call_kwargs: dict[str, Any],
        sink: HookOutputSink,
        check_after: Callable[[], None] | None,
    ) -> tuple[Any, bool]:
        worker = self.isolated.worker(sink.watcher)
        _, future = worker.submit(spec.path, spec.name, call_kwargs, sink, check_after)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            worker.kill()  # timed out or abandoned: the hook and all it started go at once
            raise

    async def _run_in_thread(
        self,
        spec: HookSpec,
        call_kwargs: dict[str, Any],
        sink: HookOutputSink,
        check_after: Callable[[], None] | None,
    ) -> tuple[Any, bool]:
        with self._threads_lock:
            if self._threads_alive >= self._max_threads:
                raise HookThreadsExhausted(
                    f"all {self._max_threads} hook threads are busy (stuck hooks?)"
                )
            self._threads_alive += 1
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[Any, bool]] = loop.create_future()

        def deliver(outcome: Callable[[], None]) -> None:
            if not done.done():
                outcome()

        def work() -> None:
            try:
                # Truthiness is user code too (__bool__): judged here, never on the core loop.
                with capturing(sink):
                    result = spec.func(**call_kwargs)
                    judged = (result, _truthy(result))
                if check_after is not None:
                    check_after()
            except BaseException as exc:
                error = exc
                _deliver_threadsafe(loop, deliver, lambda: done.set_exception(_Carrier(error)))
            else:
                _deliver_threadsafe(loop, deliver, lambda: done.set_result(judged))
            finally:
                with self._threads_lock:
                    self._threads_alive -= 1

        threading.Thread(target=work, name=f"tuiman-hook-{spec.name}", daemon=True).start()
        # Stays wrapped: a SystemExit re-raised inside a Task would escape the core loop itself.
        return await done

    def _failure(
        self,
        spec: HookSpec,
        watcher_name: str,
        kwargs: dict[str, Any],
        started: float,
        error: str,
        result_ignored: bool,
        *,
        threadsafe: bool = False,
    ) -> HookOutcome:
        ignored = result_ignored or spec.ignore_failure
        vetoed = not ignored and spec.name not in RESULT_IGNORED_HOOKS
        self._publish(
            spec,
            watcher_name,
            kwargs,
            started,
            vetoed=vetoed,
            error=error,
            threadsafe=threadsafe,
        )
        return HookOutcome(proceed=not vetoed, vetoed=vetoed, failed=True, error=error)

    def _publish_started(
        self,
        spec: HookSpec,
        watcher_name: str,
        kwargs: dict[str, Any],
        timeout: float,
        *,
        threadsafe: bool = False,
    ) -> None:
        """`hook_started`: a call is under way (none for extended_stats, one per process per
        tick)."""
        if spec.name == "extended_stats":
            return
        payload: HookStartedPayload = {"name": spec.name, "timeout": timeout}
        pid = kwargs.get("pid", kwargs.get("process_pid"))
        if pid is not None:
            payload["pid"] = pid
        if "signum" in kwargs:
            payload["signum"] = kwargs["signum"]
        bus = self._bus

        def publish() -> None:
            bus.emit(Kind.HOOK_STARTED, watcher_name, payload)

        if threadsafe and threading.get_ident() != self.loop_thread_id:
            bus.call_soon_threadsafe(publish)
        else:
            publish()

    def _publish(
        self,
        spec: HookSpec,
        watcher_name: str,
        kwargs: dict[str, Any],
        started: float,
        *,
        vetoed: bool,
        error: str | None = None,
        threadsafe: bool = False,
        abandoned: bool = False,
    ) -> None:
        """`hook_success`, or `hook_failure` when there is an error."""
        success: HookSuccessPayload = {
            "name": spec.name,
            "duration": round(time.monotonic() - started, 6),
            "vetoed": vetoed,
        }
        pid = kwargs.get("pid", kwargs.get("process_pid"))
        if pid is not None:
            success["pid"] = pid
        if "signum" in kwargs:
            success["signum"] = kwargs["signum"]
        droppable = spec.name == "extended_stats"  # one per process per stats tick
        bus = self._bus

        def publish() -> None:
            # A call mypy checks against emit's overloads (functools.partial would not be).
            if error is None:
                bus.emit(Kind.HOOK_SUCCESS, watcher_name, success, droppable=droppable)
            else:
                failure: HookFailurePayload = {**success, "error": error}  # type: ignore[typeddict-item]
                if abandoned:
                    failure["abandoned"] = True
                bus.emit(Kind.HOOK_FAILURE, watcher_name, failure, droppable=droppable)

        if threadsafe and threading.get_ident() != self.loop_thread_id:
            bus.call_soon_threadsafe(publish)
        else:
            publish()


def _deliver_threadsafe(
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[Callable[[], None]], None],
    outcome: Callable[[], None],
) -> None:
    """Hand a hook thread's outcome to the core loop; an abandoned hook may outlive the loop."""
    with contextlib.suppress(RuntimeError):  # "Event loop is closed": nobody waits any more
        loop.call_soon_threadsafe(deliver, outcome)


def _truthy(result: Any) -> bool:
    """A hook that returns normally succeeds, whatever it returned (docs/hooks.md#failures); a
    result whose truth value cannot be taken (its __bool__ raises) is not a yes."""
    try:
        return bool(result)
    except Exception:
        return False


class HookBudget:
    """A hook's time limit, on a clock that stands still while tuiman is stopped (SIGSTOP,
    Ctrl-Z, `docker pause`): the hook was stopped too, so that time is not its time.

    The wait is cut into short slices. A wake-up that comes late by more than `STALL_GRACE`
    while the process used less CPU than that lateness means nothing of tuiman ran: the process
    was stopped, and the stopped time is given back. A loop that is late because something
    burnt CPU (a hook holding the GIL) still counts every second.
    """

    SLICE = 0.25  # the most of a stop that can still be counted as hook time
    STALL_GRACE = 0.5

    def __init__(self, limit: float) -> None:
        self.remaining = limit
        self._asked = 0.0
        self._slept_at = 0.0
        self._cpu_at = 0.0

    def next_wait(self) -> float:
        self._asked = max(min(self.remaining, self.SLICE), 0.0)
        self._slept_at = time.monotonic()
        self._cpu_at = time.process_time()
        return self._asked

    def spent(self) -> bool:
        """Count the slice just waited; True once the whole limit is used up."""
        elapsed = time.monotonic() - self._slept_at
        late = elapsed - self._asked
        if late > self.STALL_GRACE:
            stopped = late - (time.process_time() - self._cpu_at)
            elapsed -= max(stopped, 0.0)
        self.remaining -= elapsed
        return self.remaining <= 0


class HookThreadsExhausted(RuntimeError):
    pass


class HookAbandoned(RuntimeError):
    pass


async def _await_and_judge(
    func: Callable[..., Any],
    call_kwargs: dict[str, Any],
    sink: HookOutputSink,
    check_after: Callable[[], None] | None = None,
) -> tuple[Any, bool]:
    try:
        with capturing(sink):  # this task's own context: concurrent async hooks stay apart
            result = await func(**call_kwargs)
            judged = result, _truthy(result)
        if check_after is not None:
            check_after()
        return judged
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _Carrier(exc) from None  # unwrapped, it would stop the hook loop's thread


class _Carrier(Exception):
    """Carries a BaseException (SystemExit, KeyboardInterrupt) through a Future safely."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


def describe(exc: BaseException) -> str:
    if isinstance(exc, _Carrier):
        exc = exc.original
    if isinstance(exc, IsolatedHookFailed):
        return str(exc)  # already `Type: message`, as the worker saw it
    try:
        text = str(exc)
    except Exception:  # user code: an exception whose __str__ raises must still be reported
        text = "<exception not printable>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
