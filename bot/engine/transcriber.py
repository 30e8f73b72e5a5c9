"""The seam between the bot and whatever turns audio into text. Imports no implementation: the factory
(`bot.engine.factory`) picks one from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from bot.errors import StreamInterrupted
from bot.models import DoneEvent, Transcript, TranscriptionEvent, TranscriptionRequest


@runtime_checkable
class Transcriber(Protocol):
    """Speaks the Mistral dialect: `complete` for one answer, `stream` for the four events."""

    #: True when the service can download a `file_url` itself (saves the bot a round trip).
    can_fetch_urls: bool
    # Optional: `accepts_chunks = True` says `stream` takes `file_chunks` (the bytes as they download).

    async def complete(self, request: TranscriptionRequest) -> Transcript: ...

    def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]: ...

    async def aclose(self) -> None: ...


async def complete_from_stream(events: AsyncIterator[TranscriptionEvent]) -> Transcript:
    """Drain a stream into its final transcript (for implementations whose `complete` is a stream)."""
    async for event in events:
        if isinstance(event, DoneEvent):
            return event.transcript()
    raise StreamInterrupted("stream ended without transcription.done")
