"""Remembering which Slack deliveries were already handled, so retries and redeliveries do nothing.

An event counts as handled only once its listener succeeded (its note is a durable job): a delivery
whose listener failed is not acked, and Slack's redelivery must then be handled, not dropped."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable


class SeenEvents:
    """A bounded set of handled event ids, forgotten after `ttl_s` (Slack stops retrying within minutes),
    and the ids being handled right now.

    Only a first line of defence: the core's submit is idempotent by note key and durable, which
    also covers a redelivery that reaches a restarted process."""

    def __init__(self, ttl_s: float = 3600.0, max_size: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[None]] = {}

    def handled(self, event_id: str) -> bool:
        """True when a delivery of this id was handled successfully within the TTL."""
        now = time.monotonic()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self._ttl and len(self._seen) < self._max:
                break
            self._seen.pop(oldest)
        return event_id in self._seen

    async def handle_once(self, event_id: str, handle: Callable[[], Awaitable[None]]) -> bool:
        """Run `handle` unless this id was handled already (then False). The id counts as handled only
        if `handle` returns; if it raises, the error propagates and a redelivery runs it again. A copy
        that arrives while the first is being handled waits for its outcome."""
        while (pending := self._in_flight.get(event_id)) is not None:
            await asyncio.wait([pending])
        if self.handled(event_id):
            return False
        done = self._in_flight[event_id] = asyncio.get_running_loop().create_future()
        try:
            await handle()
            self._seen[event_id] = time.monotonic()
            return True
        finally:
            del self._in_flight[event_id]
            done.set_result(None)
