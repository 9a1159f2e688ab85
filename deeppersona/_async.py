"""Run coroutines from synchronous code, also inside an already running event loop (Jupyter).

Every synchronous call of the library (``generate``, ``enrich``, ``survey``, ``build`` ...) goes
through :func:`run_sync` (generators through :func:`iter_sync`): the coroutine runs on a fresh event
loop in a worker thread while the calling thread waits. The caller's own loop (a Jupyter kernel's, an
async framework's) is never re-entered, so no ``nest_asyncio`` patching is needed, and the caller
waits where an interrupt lands cleanly:

- Ctrl-C, or a notebook's "interrupt kernel", raises :class:`KeyboardInterrupt` in the waiting
  thread. The coroutine's task is then cancelled on its own loop (thread-safely) and given up to
  :data:`GRACE_S` seconds to wind down (LLM calls in flight are cancelled, ``finally`` blocks run,
  output files are flushed and closed); then the interrupt is raised in the caller. Work still busy
  after that (a thread inside a C call) ends on its own in the background and its result is dropped.
- Under :func:`asyncio.run` (Python 3.11+), Ctrl-C cancels the running task instead of raising; a
  synchronous call made inside that task sees the cancellation and is interrupted the same way.
- The caller waits in steps of :data:`POLL_S` seconds, so an interrupt is seen within that time even
  where a blocking wait cannot be interrupted (Windows, ``_thread.interrupt_main()``).

The same thread-and-fresh-loop path serves callers without a running loop, so an interrupt behaves
the same in a script, a terminal and a notebook, on every supported Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["GRACE_S", "POLL_S", "iter_sync", "run_sync"]

logger = logging.getLogger(__name__)

POLL_S = 0.1
"""Seconds between the waiting caller's checks for an interrupt."""

GRACE_S = 2.0
"""Seconds an interrupted coroutine is given to wind down before the interrupt is raised anyway."""


def run_sync(coro: Coroutine[Any, Any, T], *, interrupted: Callable[[], BaseException] | None = None) -> T:
    """Run ``coro`` to completion on a fresh event loop in a worker thread and return its result.

    Works with and without a running event loop in the calling thread (a Jupyter cell, an async
    framework): the caller's loop is never re-entered.

    Args:
        coro: The coroutine to run.
        interrupted: Makes the exception raised when the caller is interrupted (Ctrl-C, a notebook's
            interrupt), after the coroutine was cancelled and wound down, e.g. one that carries the work
            finished so far; a plain :class:`KeyboardInterrupt` when ``None``. It is also raised, chained
            to the original, when the coroutine itself raises a plain ``KeyboardInterrupt``.

    Returns:
        Whatever the coroutine returns; its exceptions propagate unchanged.

    Raises:
        KeyboardInterrupt: The caller was interrupted; the coroutine was cancelled first (see the
            module docstring). ``interrupted()`` when given.
    """
    worker: _Worker[T] = _Worker(coro, "deeppersona-sync")
    try:
        worker.start()
        _wait(worker.done.wait)
    except KeyboardInterrupt:
        with contextlib.suppress(KeyboardInterrupt):  # interrupted again while winding down: stop waiting
            _stop(worker)
        raise (interrupted() if interrupted is not None else KeyboardInterrupt()) from None
    error = worker.error
    if error is not None:
        if interrupted is not None and type(error) is KeyboardInterrupt:
            raise interrupted() from error
        raise error
    return worker.result  # type: ignore[return-value]  # set whenever error is None


def iter_sync(make: Callable[[], AsyncIterator[T]]) -> Generator[T, None, None]:
    """Drive the async iterator ``make()`` on a fresh loop in a worker thread; yield its items here.

    The iterator runs ahead of the consumer. Closing the generator early (``break``) or an interrupt
    while it waits cancels the iterator's work at once (within :data:`GRACE_S` seconds), instead of
    letting it finish the item in progress.

    Args:
        make: Called on the worker loop to create the async iterator.

    Yields:
        The items, in the order the async iterator produces them.

    Raises:
        KeyboardInterrupt: The consumer was interrupted while waiting for the next item.
    """
    items: queue.SimpleQueue[T] = queue.SimpleQueue()

    async def pump() -> None:
        agen = make()
        try:
            async for item in agen:
                items.put(item)
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()

    worker: _Worker[None] = _Worker(pump(), "deeppersona-stream")
    got: list[T] = []

    def ready(timeout: float) -> bool:
        try:
            got.append(items.get(timeout=timeout))
            return True
        except queue.Empty:  # every item is queued before ``done`` is set
            return worker.done.is_set() and items.empty()

    try:
        worker.start()
        while True:
            _wait(ready)
            if not got:
                break
            yield got.pop()
        if worker.error is not None:
            raise worker.error
    finally:
        if not worker.done.is_set():
            _stop(worker)


class _Worker(Generic[T]):
    """A coroutine running on its own event loop in a daemon thread, cancellable from any thread."""

    def __init__(self, coro: Coroutine[Any, Any, T], name: str) -> None:
        self._coro = coro
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self.started = False
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        context = contextvars.copy_context()  # the caller's context variables reach the coroutine
        self._thread = threading.Thread(target=context.run, args=(self._main,), name=name, daemon=True)

    def start(self) -> None:
        """Start the thread (inside the caller's ``try``, so an interrupt at any point cancels)."""
        self._thread.start()
        self.started = True

    def _main(self) -> None:
        try:
            self.result = asyncio.run(self._run())
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()

    async def _run(self) -> T:
        with self._lock:
            if self._cancelled:  # cancelled before it began (and closed by cancel())
                raise asyncio.CancelledError
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        return await self._coro

    def cancel(self) -> None:
        """Cancel the coroutine's task on its loop (safe from any thread; a no-op once it ended)."""
        with self._lock:
            self._cancelled = True
            loop, task = self._loop, self._task
            if task is None:  # not begun (the lock keeps it so): it never will, close it here
                self._coro.close()
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing left to cancel
                loop.call_soon_threadsafe(task.cancel)


def _wait(ready: Callable[[float], bool]) -> None:
    """Call ``ready(POLL_S)`` until it is true.

    Raises:
        KeyboardInterrupt: An interrupt arrived meanwhile, or the task running in this thread was
            cancelled meanwhile (what :func:`asyncio.run` does on Ctrl-C since Python 3.11; nothing else
            can cancel a task while its thread is blocked here).
    """
    task = _current_task()
    cancelling = _cancelling(task)
    while not ready(POLL_S):
        if task is not None and _cancelling(task) > cancelling:
            raise KeyboardInterrupt


def _stop(worker: _Worker[Any]) -> None:
    """Cancel ``worker`` and wait up to :data:`GRACE_S` seconds for it to wind down."""
    worker.cancel()
    if not worker.started:  # interrupted while starting it: nothing to wait for
        return
    deadline = time.monotonic() + GRACE_S
    while not worker.done.wait(max(0.0, min(POLL_S, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            logger.warning(
                "the interrupted run did not wind down within %.1f s; it ends in the background", GRACE_S
            )
            return


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None


def _cancelling(task: asyncio.Task[Any] | None) -> int:
    count = getattr(task, "cancelling", None)  # Python 3.11+
    return int(count()) if count is not None else 0
