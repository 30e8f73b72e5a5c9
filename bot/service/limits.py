"""Admission control: a few transcriptions at once, a bounded queue behind them, 429 beyond that."""

from __future__ import annotations

import asyncio
import math
import time


class QueueFull(Exception):
    """Every slot is busy and the queue is full; `retry_after` is an estimate in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the service is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class Limiter:
    """`max_concurrent` requests run, `max_queue` more wait, the rest are refused at once.

    Requests are admitted once their audio is read (the intake bounds the bytes held before that), so only
    decoding and transcribing wait here."""

    def __init__(self, max_concurrent: int, max_queue: int, initial_estimate_s: float = 5.0) -> None:
        if max_concurrent < 1 or max_queue < 0:
            raise ValueError("max_concurrent must be >= 1 and max_queue >= 0")
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.admitted = 0
        self.running = 0
        self._slots = asyncio.Semaphore(max_concurrent)
        # Moving average of how long a slot is held; only used to suggest a Retry-After.
        self._avg_s = initial_estimate_s

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def retry_after(self) -> int:
        rounds = math.ceil((self.waiting + 1) / self.max_concurrent)
        return max(1, min(600, math.ceil(self._avg_s * rounds)))

    def check(self) -> None:
        """`QueueFull` now if a request arriving now could not get in line (a cheap early refusal)."""
        if self.admitted >= self.max_concurrent + self.max_queue:
            raise QueueFull(self.retry_after())

    def admit(self) -> Ticket:
        """A place in line, or `QueueFull`; the caller must `close()` the ticket whatever happens."""
        self.check()
        self.admitted += 1
        return Ticket(self)

    def _finished(self, held_s: float) -> None:
        self._avg_s = 0.8 * self._avg_s + 0.2 * held_s


class Ticket:
    """One admitted request: `await start()` waits for a slot, `close()` gives back whatever it holds."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter
        self._started_at: float | None = None
        self._closed = False

    async def start(self) -> None:
        # Cancelled while waiting: the semaphore holds nothing for us, close() only leaves the line.
        await self._limiter._slots.acquire()
        self._started_at = time.monotonic()
        self._limiter.running += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._limiter.admitted -= 1
        if self._started_at is not None:
            self._limiter.running -= 1
            self._limiter._slots.release()
            self._limiter._finished(time.monotonic() - self._started_at)
