"""The seam between the bot and whatever turns audio into text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.models import DoneEvent, Transcript, TranscriptionEvent, TranscriptionRequest

if TYPE_CHECKING:
    from bot.config import Settings


@runtime_checkable
class Transcriber(Protocol):
    """Speaks the Mistral dialect: `complete` for one answer, `stream` for the four events."""

    #: True when the service can download a `file_url` itself (saves the bot a round trip).
    can_fetch_urls: bool

    async def complete(self, request: TranscriptionRequest) -> Transcript: ...

    def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]: ...

    async def aclose(self) -> None: ...


async def complete_from_stream(events: AsyncIterator[TranscriptionEvent]) -> Transcript:
    """Drain a stream into its final transcript (for implementations whose `complete` is a stream)."""
    async for event in events:
        if isinstance(event, DoneEvent):
            return event.transcript()
    from bot.errors import StreamInterrupted

    raise StreamInterrupted("stream ended without transcription.done")


def make_transcriber(settings: Settings) -> Transcriber:
    """Build the transcriber the configuration asks for: the embedded engine unless a URL is set."""
    if settings.transcriber == "mistral":
        from bot.mistral_client import MistralTranscriber

        return MistralTranscriber.from_settings(settings)
    from bot.local_engine import LocalTranscriber

    return LocalTranscriber.from_settings(settings)
