"""Every error the service answers is JSON `{object, message, type, code, param}` with a fitting status."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from bot.errors import (
    AudioTooLarge,
    AudioTooLong,
    BadSpeakerReference,
    CorruptAudio,
    EmptyAudio,
    FetchFailed,
    NoSpeech,
    TranscriptionRejected,
    TranscriptionUnavailable,
    UnsupportedAudio,
    VoxnoteError,
)
from bot.service.fetch import UrlNotAllowed
from bot.service.files import FileNotFound, StoreFull


class ApiError(Exception):
    """An answer other than 2XX; `param` names the faulty request field when there is one."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"object": "error", "message": self.message, "type": self.type, "code": self.code, "param": self.param}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


# Most specific first: subclasses before their bases.
_AUDIO_ERRORS: list[tuple[type[VoxnoteError], int, str, str]] = [
    (UrlNotAllowed, 400, "url_not_allowed", "file_url"),
    (FetchFailed, 400, "fetch_failed", "file_url"),
    (EmptyAudio, 400, "empty_file", "file"),
    (UnsupportedAudio, 415, "unsupported_audio", "file"),
    (CorruptAudio, 422, "corrupt_audio", "file"),
    (AudioTooLarge, 413, "file_too_large", "file"),
    (AudioTooLong, 422, "audio_too_long", "file"),
    (NoSpeech, 422, "no_speech", "file"),
    (FileNotFound, 404, "file_not_found", "file_id"),
    (BadSpeakerReference, 400, "invalid_value", "speaker_references"),
]


def from_voxnote_error(exc: VoxnoteError, source_param: str | None = None) -> ApiError:
    """The typed errors of the engine, the audio checks and the fetcher, as HTTP answers."""
    for kind, status, code, param in _AUDIO_ERRORS:
        if isinstance(exc, kind):
            if param == "file" and source_param:
                param = source_param
            return ApiError(status, str(exc), code=code, param=param)
    if isinstance(exc, StoreFull):
        return ApiError(507, str(exc), type="server_error", code="store_full", param="file")
    if isinstance(exc, TranscriptionUnavailable):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
        return ApiError(503, str(exc), type="server_error", code="engine_unavailable", headers=headers)
    if isinstance(exc, TranscriptionRejected):
        return ApiError(400, str(exc), code="rejected")
    return ApiError(500, str(exc), type="server_error", code="engine_error")
