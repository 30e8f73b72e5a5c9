"""Picks the transcriber the settings ask for: the embedded engine unless a Mistral-compatible URL is set.

Imports are lazy so the Mistral client never loads faster-whisper, and the local engine never loads httpx."""

from __future__ import annotations

from bot.config import Settings
from bot.engine.transcriber import Transcriber


def make_transcriber(settings: Settings) -> Transcriber:
    """Build the transcriber the configuration asks for: the embedded engine unless a URL is set."""
    if settings.transcriber == "mistral":
        from bot.engine.mistral import MistralTranscriber
        from bot.engine.pool import EnginePool, base_urls

        if len(base_urls(settings.mistral_base_url)) > 1:
            return EnginePool.from_settings(settings)
        return MistralTranscriber.from_settings(settings)
    if settings.transcriber == "realtime":
        from bot.engine.realtime_client import RealtimeTranscriber

        return RealtimeTranscriber.from_settings(settings)
    from bot.engine.local import LocalTranscriber

    return LocalTranscriber.from_settings(settings)
