"""Remembering which Slack deliveries were already handled, so retries and redeliveries do nothing."""

from __future__ import annotations

import time
from collections import OrderedDict


class SeenEvents:
    """A bounded set of event ids, forgotten after `ttl_s` (Slack stops retrying within minutes).

    Only a first line of defence: the core's submit is idempotent by note key and durable, which
    also covers a redelivery that reaches a restarted process."""

    def __init__(self, ttl_s: float = 3600.0, max_size: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is offered, False on every repeat within the TTL."""
        now = time.monotonic()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self._ttl and len(self._seen) < self._max:
                break
            self._seen.pop(oldest)
        if event_id in self._seen:
            return False
        self._seen[event_id] = now
        return True
