"""The model ids the service answers to: the engine's own, plus the ids clients written for Mistral's or
OpenAI's cloud send by default, so they work unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.models import WHISPER_LANGUAGES
from bot.service.api_errors import ApiError

# Cloud ids that clients send by default (voxnote's own MistralTranscriber sends `voxtral-mini-latest`),
# Voxtral 3's batch ids (October 2026) included; its realtime id needs the websocket API, not served here.
CLOUD_ALIASES = (
    "voxtral-mini-latest", "voxtral-mini-2507", "voxtral-mini-transcribe",
    "voxtral-mini-transcribe-3-0", "voxtral-mini-transcribe-3", "voxtral-mini-transcribe-latest",
    "voxtral-small-transcribe-3-0", "voxtral-small-transcribe-3", "voxtral-small-transcribe-latest",
    "whisper-1",
)


@dataclass
class ModelCatalog:
    """One engine model, listed under its id with the cloud ids as aliases.

    The id is read from the engine each time: it may change once the engine has loaded its model."""

    engine_id: Callable[[], str]
    diarization: Callable[[], bool] = lambda: False
    aliases: tuple[str, ...] = CLOUD_ALIASES
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def model_id(self) -> str:
        return self.engine_id()

    @property
    def languages(self) -> list[str]:
        return ["en"] if self.model_id.endswith(".en") else sorted(WHISPER_LANGUAGES)

    def resolve(self, requested: str) -> str:
        """The engine model a request's `model` names; 400 naming the field when there is none."""
        name = requested.strip()
        if name == self.model_id or name in self.aliases:
            return self.model_id
        raise ApiError(
            400,
            f"unknown model {requested!r}: this service serves {self.model_id!r} (see GET /v1/models)",
            code="model_not_found",
            param="model",
        )

    def card(self) -> dict[str, Any]:
        """A Mistral model card (the SDK's `BaseModelCard`), which OpenAI clients also read."""
        return {
            "id": self.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": "voxnote",
            "type": "base",
            "name": self.model_id,
            "description": "local Whisper engine served by voxnote",
            "aliases": list(self.aliases),
            "capabilities": {"audio_transcription": True, "audio": True},
            "audio_transcription_capabilities": {
                "modes": ["offline"],
                "diarization": self.diarization(),
                "context_bias": True,
                "timestamp_granularities": ["segment"],
                "languages": self.languages,
            },
        }

    def listing(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.card()]}

    def get(self, model_id: str) -> dict[str, Any]:
        if model_id != self.model_id and model_id not in self.aliases:
            raise ApiError(404, f"unknown model {model_id!r}", code="model_not_found", param="model_id")
        return self.card()
