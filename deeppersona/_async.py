"""Run coroutines from synchronous code, also inside an already running event loop (Jupyter)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_sync"]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result.

    Without a running event loop this is :func:`asyncio.run`. Inside one (a Jupyter cell, an async
    framework) the coroutine runs on a fresh loop in a worker thread, so the caller's loop is never
    re-entered and no ``nest_asyncio`` patching is needed.

    Args:
        coro: The coroutine to run.

    Returns:
        Whatever the coroutine returns; its exceptions propagate unchanged.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="deeppersona-sync") as pool:
        return pool.submit(asyncio.run, coro).result()
