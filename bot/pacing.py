"""Rate budgets per key (a channel, a workspace), for adapters that pace themselves under a platform's
limits instead of drawing 429s.

Two shapes, because platforms count two ways: Slack's tiers behave like token buckets (a burst, then a
steady rate), for which aiolimiter's `AsyncLimiter` (a leaky bucket) is the usual asyncio choice.
Discord counts in fixed windows ("5 per 5 s", reset by the clock), which a leaky bucket can overshoot:
a full bucket lets 5 through at once and then one more per second, 10 within 5 s. `MovingWindow`
never lets more than `limit` through in any `period`, so whatever window the server aligns, it is not
exceeded (aiolimiter has no such mode; it is a dozen lines).

Several replicas on one database must not each spend the platform's whole budget: there, `shared` puts a
limiter in front of the database's moving window for the same key (`Store.take_rate_slot`), so all of
them together stay under the limit. With SQLite (one process) the limiters stay in memory only."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from aiolimiter import AsyncLimiter

if TYPE_CHECKING:
    from storage import Store


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


class SharedLimiter:
    """`local` (this process's own pace), then one of `limit` sends per `period` s for `key` from the
    database, which every replica counts in: a refused slot is waited for and asked again."""

    def __init__(self, local: Limiter, store: Store, key: str, limit: int, period: float) -> None:
        self.local = local
        self.store = store
        self.key = key
        self.limit = limit
        self.period = period
        # When the database last refused a slot, until when: `has_capacity` may not go to the database
        # (callers ask it synchronously), so it answers from what this process last heard.
        self._refused_until = 0.0

    def has_capacity(self, amount: float = 1) -> bool:
        return time.monotonic() >= self._refused_until and self.local.has_capacity(amount)

    async def acquire(self) -> None:
        await self.local.acquire()
        while (wait := await self.store.take_rate_slot(self.key, self.limit, self.period)) > 0:
            self._refused_until = time.monotonic() + wait
            await asyncio.sleep(wait)

    async def try_acquire(self) -> bool:
        """Take a slot only if one is free now, in this process and in the database; never waits long."""
        if not self.has_capacity():
            return False
        await self.local.acquire()
        wait = await self.store.take_rate_slot(self.key, self.limit, self.period)
        if wait > 0:
            self._refused_until = time.monotonic() + wait
            return False
        return True


async def try_acquire(limiter: Limiter) -> bool:
    """Acquire `limiter` if that needs no waiting (for a caller that would rather defer its work); a
    shared limiter asks the database too, which `has_capacity` alone cannot."""
    if isinstance(limiter, SharedLimiter):
        return await limiter.try_acquire()
    if not limiter.has_capacity():
        return False
    await limiter.acquire()
    return True


def shared(local: Limiter, store: Store | None, key: str, limit: float, period: float) -> Limiter:
    """`local`, also counted in the database's window for `key` when `store` shares rate budgets between
    processes. The window holds `limit` sends per `period` s: for a token bucket of `limit` tokens refilled
    over `period`, never more in any stretch of time than the bucket itself would let through."""
    if store is None or not store.several_processes:
        return local
    return SharedLimiter(local, store, key, max(1, int(limit)), period)


class KeyedLimiter:
    """One limiter per key, created on first use by `make()` (default: `AsyncLimiter(burst, period)`);
    the least recently used are forgotten past `max_keys` (an idle channel's budget is full again by then).
    With `share`, each new one is passed through `share(key, limiter)` (see `shared`)."""

    def __init__(self, burst: float, period: float, max_keys: int = 1024,
                 make: Callable[[], Limiter] | None = None,
                 share: Callable[[str, Limiter], Limiter] | None = None) -> None:
        self.burst = burst
        self.period = period
        self.max_keys = max_keys
        self._make = make or (lambda: AsyncLimiter(self.burst, self.period))
        self._share = share
        self._limiters: OrderedDict[str, Limiter] = OrderedDict()

    def __call__(self, key: str) -> Limiter:
        limiter = self._limiters.pop(key, None)
        if limiter is None:
            limiter = self._make() if self._share is None else self._share(key, self._make())
        self._limiters[key] = limiter
        while len(self._limiters) > self.max_keys:
            self._limiters.popitem(last=False)
        return limiter
