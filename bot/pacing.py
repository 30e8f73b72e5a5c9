"""Token buckets per key (a channel, a workspace), for adapters that pace themselves under a platform's
rate limits instead of drawing 429s. Built on aiolimiter's `AsyncLimiter` (a leaky bucket)."""

from __future__ import annotations

from collections import OrderedDict

from aiolimiter import AsyncLimiter


class KeyedLimiter:
    """One `AsyncLimiter(burst, period)` per key, created on first use; the least recently used are
    forgotten past `max_keys` (an idle channel's bucket is full again by then anyway)."""

    def __init__(self, burst: float, period: float, max_keys: int = 1024) -> None:
        self.burst = burst
        self.period = period
        self.max_keys = max_keys
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __call__(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.pop(key, None) or AsyncLimiter(self.burst, self.period)
        self._limiters[key] = limiter
        while len(self._limiters) > self.max_keys:
            self._limiters.popitem(last=False)
        return limiter
