"""Everything a request handler needs, built once per app and kept in `app.state.service`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from bot.config import Settings
from bot.service.catalog import ModelCatalog
from bot.service.fetch import Fetcher
from bot.service.files import FileStore
from bot.service.intake import ByteBudget
from bot.service.limits import Limiter
from bot.engine.transcriber import Transcriber


@dataclass
class Service:
    settings: Settings
    transcriber: Transcriber
    fetcher: Fetcher
    store: FileStore
    limiter: Limiter
    catalog: ModelCatalog
    api_keys: list[str]
    budget: ByteBudget

    def can_diarize(self) -> bool:
        """True when the engine labels speakers (LocalTranscriber with a diarizer attached)."""
        return getattr(self.transcriber, "diarizer", None) is not None


def engine_model_id(transcriber: Transcriber) -> str:
    return str(getattr(transcriber, "model_id", None) or getattr(transcriber, "model", None) or "local")


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]
