"""Rate budgets per key (a channel, a workspace), for adapters that pace themselves under a platform's
limits instead of drawing 429s.

Two shapes, because platforms count two ways: Slack's tiers behave like token buckets (a burst, then a
steady rate), for which aiolimiter's `AsyncLimiter` (a leaky bucket) is the usual asyncio choice.
Discord counts in fixed windows ("5 per 5 s", reset by the clock), which a leaky bucket can overshoot:
a full bucket lets 5 through at once and then one more per second, 10 within 5 s. `MovingWindow`
never lets more than `limit` through in any `period`, so whatever window the server aligns, it is not
exceeded (aiolimiter has no such mode; it is a dozen lines)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from aiolimiter import AsyncLimiter


class Limiter(Protocol):
    """aiolimiter's `AsyncLimiter` API, which `MovingWindow` shares."""

    def has_capacity(self, amount: float = 1) -> bool: ...

    async def acquire(self) -> None: ...


def available(limiter: Limiter, most: int = 2) -> int:
    """Up to `most` acquisitions `limiter` could grant now without waiting."""
    return next((n for n in range(most, 0, -1) if limiter.has_capacity(n)), 0)


class MovingWindow:
    """At most `limit` acquisitions in any `period` seconds; waiters are served first come, first served."""

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._sent: deque[float] = deque(maxlen=limit)
        self._lock = asyncio.Lock()

    def has_capacity(self, amount: float = 1) -> bool:
        """True when `amount` acquisitions could go now without waiting (none while others wait in line)."""
        if self._lock.locked():
            return False
        now = time.monotonic()
        return self.limit - sum(1 for t in self._sent if now - t < self.period) >= amount

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: asyncio.Lock wakes waiters in order
            if len(self._sent) == self.limit:
                wait = self._sent[0] + self.period - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._sent.append(time.monotonic())


class KeyedLimiter:
    """One limiter per key, created on first use by `make()` (default: `AsyncLimiter(burst, period)`);
    the least recently used are forgotten past `max_keys` (an idle channel's budget is full again by then)."""

    def __init__(self, burst: float, period: float, max_keys: int = 1024,
                 make: Callable[[], Limiter] | None = None) -> None:
        self.burst = burst
        self.period = period
        self.max_keys = max_keys
        self._make = make or (lambda: AsyncLimiter(self.burst, self.period))
        self._limiters: OrderedDict[str, Limiter] = OrderedDict()

    def __call__(self, key: str) -> Limiter:
        limiter = self._limiters.pop(key, None) or self._make()
        self._limiters[key] = limiter
        while len(self._limiters) > self.max_keys:
            self._limiters.popitem(last=False)
        return limiter
