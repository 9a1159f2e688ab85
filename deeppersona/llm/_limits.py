"""Request-rate and token-rate limits over a sliding one-minute window."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["RateLimiter"]

_WINDOW = 60.0


class RateLimiter:
    """Waits until one more request of ``tokens`` fits into the last minute's budget.

    Args:
        requests_per_minute: The request budget, ``None`` for unlimited.
        tokens_per_minute: The token budget (estimated before the request), ``None`` for unlimited.
        clock: Monotonic clock (replaceable in tests).
        sleep: Sleep coroutine (replaceable in tests).
    """

    def __init__(
        self,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        self.rpm = requests_per_minute
        self.tpm = tokens_per_minute
        self._clock = clock
        self._sleep = sleep
        self._events: collections.deque[tuple[float, int]] = collections.deque()
        self._tokens = 0

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return bool(self.rpm) or bool(self.tpm)

    def _prune(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= _WINDOW:
            _, tokens = self._events.popleft()
            self._tokens -= tokens

    def _wait_time(self, tokens: int, now: float) -> float:
        self._prune(now)
        wait = 0.0
        if self.rpm and len(self._events) >= self.rpm:
            wait = max(wait, self._events[0][0] + _WINDOW - now)
        if self.tpm and self._events and self._tokens + tokens > self.tpm:
            # free the oldest entries until the new request fits
            freed = self._tokens + tokens - self.tpm
            acc = 0
            for stamp, used in self._events:
                acc += used
                if acc >= freed:
                    wait = max(wait, stamp + _WINDOW - now)
                    break
            else:
                wait = max(wait, self._events[-1][0] + _WINDOW - now)
        return wait

    async def acquire(self, tokens: int = 0) -> None:
        """Wait (without blocking the loop) until a request of ``tokens`` is within both limits, then book it."""
        if not self.enabled:
            return
        sleep = self._sleep or asyncio.sleep
        while True:
            now = self._clock()
            wait = self._wait_time(tokens, now)
            if wait <= 0:
                self._events.append((now, tokens))
                self._tokens += tokens
                return
            await sleep(wait)
