"""Backoff arithmetic for HTTP clients: jittered exponential delays, Retry-After, a per-call budget."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def is_retryable_status(status: int) -> bool:
    """429 and every 5XX; other 4XX mean the request itself is wrong."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date; None if absent or bad."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call.

    `budget_s` bounds the total time slept between attempts of one call, so a dead service fails a job in
    bounded time and the job queue, not the client, decides when to try again."""

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    #: The longest Retry-After slept in the call; a longer one ends the call (never resend early).
    max_retry_after_s: float = 60.0
    budget_s: float = 120.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number `retry` (0-based): the server's word if given, else full jitter."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**retry))
        return random.uniform(ceiling / 2, ceiling)


class RetryState:
    """Counts retries and sleep time of one call; `next_delay` says how long to wait, or None to give up."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.retries = 0
        self.slept = 0.0

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up this call. A Retry-After longer
        than `max_retry_after_s` gives up too: the caller reschedules (the job queue honours it in full)."""
        if self.retries >= self.policy.max_retries:
            return None
        if retry_after is not None and retry_after > self.policy.max_retry_after_s:
            return None
        delay = self.policy.delay(self.retries, retry_after)
        if self.slept + delay > self.policy.budget_s:
            return None
        self.retries += 1
        self.slept += delay
        return delay
