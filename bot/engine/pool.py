"""Several transcription services (each a `voxnote serve`, or Mistral's cloud) behind one Transcriber.

Notes go to the healthy engine with the fewest in flight. An engine that cannot be reached, times out
or answers 5XX/429 is set aside for a while and the note goes to the next one at once (before any
text came: after that, the job's own retry runs it again); once its time is up, a quick look at its
/health decides whether it gets notes again. A note is refused (4XX) by an engine for what it is,
not for where it went: that is not retried elsewhere. No balancer to run, and a dead engine costs
one failed connection, not a timeout per note."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bot.engine.mistral import MistralTranscriber
from bot.errors import TranscriptionUnavailable
from bot.models import Transcript, TranscriptionEvent, TranscriptionRequest
from bot.retry import RetryPolicy

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

#: How long an engine that failed is left alone before it is looked at again.
DOWN_SECONDS = 20.0
PROBE_TIMEOUT_S = 2.0


def base_urls(value: str) -> list[str]:
    """`VOXNOTE_MISTRAL_BASE_URL` may list several engines, comma-separated."""
    return [u.strip().rstrip("/") for u in value.split(",") if u.strip()]


@dataclass(eq=False)
class Member:
    client: MistralTranscriber
    url: str
    in_flight: int = 0
    down_until: float = 0.0
    failures: int = field(default=0)


class EnginePool:
    can_fetch_urls = True

    def __init__(
        self, clients: list[MistralTranscriber], *, down_s: float = DOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not clients:
            raise ValueError("an engine pool needs at least one engine")
        self.members = [Member(c, str(c.base_url)) for c in clients]
        self.down_s = down_s
        self._clock = clock
        self._turn = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> EnginePool:
        # One try per engine: the pool moves on instead of backing off on a dead one; the job's retry
        # (minutes apart) covers the case where every engine is down.
        return cls([
            MistralTranscriber.from_settings(settings, base_url=url, retry=RetryPolicy(max_retries=0))
            for url in base_urls(settings.mistral_base_url)
        ])

    @property
    def model(self) -> str:
        return self.members[0].client.model

    async def _pick(self, tried: set[Member]) -> Member:
        """The healthy engine with the fewest notes in flight (round robin among equals); an engine whose
        time out is over is probed first. With none healthy, the one back soonest gets a try."""
        now = self._clock()
        candidates = [m for m in self.members if m not in tried]
        for member in candidates:
            if member.down_until and member.down_until <= now and not await self._reachable(member):
                member.down_until = now + self.down_s
        healthy = [m for m in candidates if m.down_until <= now]
        if not healthy:
            return min(candidates, key=lambda m: m.down_until)
        chosen = min(healthy, key=lambda m: (m.in_flight, (self.members.index(m) - self._turn) % len(self.members)))
        self._turn += 1
        return chosen

    async def _reachable(self, member: Member) -> bool:
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as probe:
                await probe.get(f"{member.url}/health")
            return True  # any answer (even a 404 from a server without /health) means it is up
        except httpx.HTTPError:
            return False

    def _failed(self, member: Member, exc: Exception) -> None:
        member.failures += 1
        member.down_until = self._clock() + self.down_s
        log.warning("engine %s unavailable (%s); it gets no notes for %.0f s", member.url, exc, self.down_s)

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        tried: set[Member] = set()
        while True:
            member = await self._pick(tried)
            tried.add(member)
            member.in_flight += 1
            yielded = 0
            try:
                async for event in member.client.stream(request):
                    yielded += 1
                    yield event
                member.down_until = 0.0
                return
            except TranscriptionUnavailable as exc:
                self._failed(member, exc)
                if yielded or len(tried) == len(self.members):
                    raise
                log.info("sending the note to another engine")
            finally:
                member.in_flight -= 1

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        tried: set[Member] = set()
        while True:
            member = await self._pick(tried)
            tried.add(member)
            member.in_flight += 1
            try:
                transcript = await member.client.complete(request)
                member.down_until = 0.0
                return transcript
            except TranscriptionUnavailable as exc:
                self._failed(member, exc)
                if len(tried) == len(self.members):
                    raise
            finally:
                member.in_flight -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(m.client.aclose() for m in self.members), return_exceptions=True)
