"""A reply that grows as speech is recognised, edited no faster than the platform tolerates.

Deltas arrive far faster than it is worth editing one message, so partial updates are coalesced: only the
latest text is sent, at most once per `min_interval` per message. The first text goes out as soon as it
exists and the final as soon as it is ready; the platform's real budgets (Slack's tiers, Discord's
buckets) are kept by the adapters, which wait for a token before each call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

EditFn = Callable[[str], Awaitable[None]]
LIVE_SUFFIX = " …"
FINAL_RETRIES = 3
BUDGET_POLL_S = 0.1
#: Notes at least this long show how far recognition has got ("⏳ 2:10 of 14:32") until the final.
PROGRESS_MIN_S = 180.0


def clock(seconds: float) -> str:
    """2:10, or 1:02:10 past an hour."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class LiveReply:
    def __init__(self, edit: EditFn, min_interval: float, max_chars: int, header: str = "",
                 budget: Callable[[], int] | None = None) -> None:
        self._edit = edit
        # Edits the platform could make now: a partial leaves the last one to a final (another note's, in
        # a busy channel), the first text takes it. None: no such hint, send at the pace.
        self._budget = budget
        self._interval = min_interval
        self._max_chars = max_chars
        self._header = header
        self._text = ""
        self._total: float | None = None
        self._position = 0.0
        self._sent: str | None = None
        self._last_edit = float("-inf")
        self._dirty = asyncio.Event()
        self._closed = False
        self._lock = asyncio.Lock()
        self._task = asyncio.create_task(self._pump(), name="live-reply")
        #: monotonic time of the first edit that showed recognised text (None until then).
        self.first_text_at: float | None = None

    def append(self, delta: str) -> None:
        """Add recognised text; it shows up at the next allowed edit."""
        self._text += delta
        self._dirty.set()

    def set_duration(self, seconds: float | None) -> None:
        """The note's length, once known: a long one shows its progress in the header."""
        self._total = seconds

    def reached(self, seconds: float) -> None:
        """Recognition has got this far into the note (a segment's end)."""
        if seconds > self._position:
            self._position = seconds
            if self._total is not None and self._total >= PROGRESS_MIN_S:
                self._dirty.set()

    @property
    def has_text(self) -> bool:
        return bool(self._text.strip())

    def _status(self) -> str:
        if self._total is None or self._total < PROGRESS_MIN_S:
            return self._header
        done = min(self._position, self._total)
        return f"{self._header} ⏳ {clock(done)} of {clock(self._total)}".strip()

    def render_partial(self) -> str:
        text = self._text.strip()
        status = self._status()
        body_room = self._max_chars - len(status) - len(LIVE_SUFFIX) - 2
        if len(text) > body_room:
            # Show the newest words: that is what the reader is following.
            text = "…" + text[-(body_room - 1):]
        parts = [p for p in (status, text + LIVE_SUFFIX if text else "") if p]
        return "\n".join(parts)

    async def _pump(self) -> None:
        while not self._closed:
            await self._dirty.wait()
            if self._closed:
                return
            wait = self._last_edit + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            while self._budget is not None and not self._closed and self._budget() < self._needed():
                await asyncio.sleep(BUDGET_POLL_S)  # the text keeps growing meanwhile: one edit, the newest
            if self._closed:
                return
            self._dirty.clear()
            text = self.render_partial()
            if text == self._sent:
                continue
            async with self._lock:
                if self._closed:
                    return
                await self._send(text, final=False)

    def _needed(self) -> int:
        return 1 if self.first_text_at is None else 2

    async def _send(self, text: str, *, final: bool) -> None:
        self._last_edit = time.monotonic()
        try:
            await self._edit(text)
            self._sent = text
            if self.first_text_at is None and self.has_text:
                self.first_text_at = time.monotonic()
        except Exception:
            if final:
                raise
            # A lost partial is harmless: the next one (or the final text) replaces it.
            log.warning("partial edit failed", exc_info=True)
        finally:
            self._last_edit = time.monotonic()

    async def finish(self, text: str) -> None:
        """Stop partial updates and deliver `text` at once (the adapter paces by the platform's budget);
        retried a few times."""
        self._closed = True
        self._dirty.set()
        async with self._lock:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            for attempt in range(FINAL_RETRIES):
                # No pace before the final: the platform's own budget (its adapter waits for a token) is
                # the only thing worth waiting for once the text is complete.
                try:
                    await self._send(text, final=True)
                    return
                except Exception:
                    if attempt == FINAL_RETRIES - 1:
                        raise
                    log.warning("final edit failed, retrying", exc_info=True)
                    await asyncio.sleep(self._interval * (attempt + 1))

    async def aclose(self) -> None:
        """Stop without a final edit (the job is being abandoned or requeued)."""
        self._closed = True
        self._dirty.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
