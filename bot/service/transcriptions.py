"""`POST /v1/audio/transcriptions`: get the audio bytes (upload, stored file or URL), hand them to the
engine as a `TranscriptionRequest`, and answer in Mistral's dialect (JSON or SSE) or OpenAI's."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from bot.errors import EmptyAudio, StreamInterrupted, TranscriptionError, VoxnoteError
from bot.models import DoneEvent, SegmentEvent, Transcript, TranscriptionEvent, TranscriptionRequest
from bot.service.api_errors import ApiError, from_voxnote_error
from bot.service.auth import authenticate
from bot.service.disconnect import unless_disconnected
from bot.service.intake import Reservation, reservation_of
from bot.service.form import TranscriptionForm, openapi_request_body, parse_form
from bot.service.openai_compat import mistral_body, openai_event, openai_response
from bot.service.sse import Event, EventStreamResponse
from bot.service.state import Service, service_of

log = logging.getLogger(__name__)
router = APIRouter()
# Text fields are small but for `speaker_references` (base64 recordings of known voices, one JSON part:
# the SDK sent two short clips and Starlette's 64 KB default refused them). The whole body stays
# capped by the intake's limits, so this bounds one part, not the request.
MAX_FIELD_BYTES = 8 * 1024 * 1024


@router.post(
    "/v1/audio/transcriptions",
    summary="Transcribe audio (Mistral's dialect; OpenAI's when `response_format` is given)",
    openapi_extra=openapi_request_body(),
    response_model=None,
    responses={
        200: {"description": "JSON transcript, or Server-Sent Events when `stream=true`"},
        400: {"description": "bad request"},
        401: {"description": "missing or wrong API key"},
        413: {"description": "file too large"},
        422: {"description": "a field is invalid; `param` names it"},
        429: {"description": "busy: retry after `Retry-After` seconds"},
    },
)
async def create_transcription(request: Request, owner: str = Depends(authenticate)) -> Response:
    service = service_of(request)
    # A full queue is refused before the body is read; but the place in line is taken only once the audio
    # is in hand, so clients still sending (or a slow file_url server) hold no place and no engine slot.
    service.limiter.check()
    started = time.monotonic()
    events: AsyncIterator[TranscriptionEvent] | None = None
    handed_over = False
    source: str | None = None
    fields, model, source, engine_request = await _read_request(request, service, owner)
    ticket = service.limiter.admit()
    try:
        await unless_disconnected(request.receive, ticket.start())
        if engine_request.diarize and not service.can_diarize():
            log.warning("diarize=true asked, but no speaker model is loaded: answering without speaker ids")
        events = service.transcriber.stream(engine_request)
        if fields.stream:
            # The first event is awaited here so that bad audio still gets a JSON 4XX, not a broken stream.
            first = await unless_disconnected(request.receive, _first(events))
            response = EventStreamResponse(
                _wire_events(first, events, fields, model),
                on_close=ticket.close,
                error_event=_error_event,
            )
            handed_over = True
            log.info("stream of %s (%s) started after %.2fs", source, _describe(engine_request), time.monotonic() - started)
            return response
        transcript = await unless_disconnected(request.receive, _drain(events))
        log.info(
            "transcribed %s (%s): %.1fs of audio in %.2fs",
            source, _describe(engine_request), transcript.duration, time.monotonic() - started,
        )
        if fields.response_format is not None:
            return openai_response(transcript, fields.response_format, fields.diarize)
        return JSONResponse(mistral_body(transcript, model))
    except VoxnoteError as exc:
        raise from_voxnote_error(exc, source) from exc
    finally:
        if not handed_over:
            if events is not None:
                await events.aclose()  # type: ignore[attr-defined]
            ticket.close()


async def _read_request(
    request: Request, service: Service, owner: str
) -> tuple[TranscriptionForm, str, str, TranscriptionRequest]:
    """Validated fields, the engine model, the audio source's field name, and the request for the engine."""
    async with request.form(max_files=2, max_fields=400, max_part_size=MAX_FIELD_BYTES) as form:
        fields, upload = parse_form(form)
        model = service.catalog.resolve(fields.model)
        if "word" in fields.timestamp_granularities and not getattr(
            service.transcriber, "supports_word_timestamps", False
        ):
            raise ApiError(422, "timestamp_granularities: this engine gives segment timestamps only",
                           code="unsupported_value", param="timestamp_granularities")
        if fields.speaker_references and not fields.diarize:
            raise ApiError(422, "speaker_references needs diarize=true", code="invalid_value",
                           param="speaker_references")
        source = _source_param(fields, upload)
        try:
            audio, filename = await unless_disconnected(
                request.receive, _audio_bytes(service, fields, upload, owner, source, reservation_of(request.scope))
            )
        except VoxnoteError as exc:
            raise from_voxnote_error(exc, source) from exc
    engine_request = TranscriptionRequest(
        file=audio,
        filename=filename,
        language=fields.language[0] if len(fields.language) == 1 else None,
        languages=fields.language if len(fields.language) > 1 else [],
        temperature=fields.temperature,
        diarize=fields.diarize,
        context_bias=fields.context_bias,
        timestamp_granularities=fields.timestamp_granularities,
        speaker_references=fields.speaker_references,
        # A JSON answer is the final alone: the whole-note decode. A stream keeps deltas adding up to it.
        final_from_done=not fields.stream,
    )
    return fields, model, source, engine_request


def _source_param(fields: TranscriptionForm, upload: UploadFile | None) -> str:
    given = [name for name, value in (("file", upload), ("file_url", fields.file_url), ("file_id", fields.file_id))
             if value is not None]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise ApiError(400, f"give exactly one of file, file_url, file_id (got {what})", code="invalid_source",
                       param=given[-1] if given else "file")
    return given[0]


async def _audio_bytes(
    service: Service,
    fields: TranscriptionForm,
    upload: UploadFile | None,
    owner: str,
    source: str,
    reservation: Reservation | None,
) -> tuple[bytes, str]:
    limit = service.settings.max_audio_bytes
    if source == "file":
        assert upload is not None
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"the file is larger than the {limit}-byte limit", code="file_too_large", param="file")
        if not data:
            raise EmptyAudio("the uploaded file is empty")
        return data, upload.filename or "audio"
    if source == "file_id":
        assert fields.file_id is not None
        stored = await service.store.get(fields.file_id, owner)
        if reservation is not None:
            reservation.take(stored.bytes)
        stored, data = await service.store.read(fields.file_id, owner)
        return data, stored.filename
    assert fields.file_url is not None
    data, filename = await service.fetcher.fetch(
        fields.file_url, cover=reservation.cover if reservation is not None else None
    )
    if not data:
        raise EmptyAudio("the file at file_url is empty")
    return data, filename


async def _first(events: AsyncIterator[TranscriptionEvent]) -> TranscriptionEvent:
    try:
        return await anext(events)
    except StopAsyncIteration:
        raise StreamInterrupted("the engine produced no events") from None


async def _drain(events: AsyncIterator[TranscriptionEvent]) -> Transcript:
    async for event in events:
        if isinstance(event, DoneEvent):
            return event.transcript()
    raise StreamInterrupted("the engine stopped without a final transcript")


async def _wire_events(
    first: TranscriptionEvent, events: AsyncIterator[TranscriptionEvent], fields: TranscriptionForm, model: str
) -> AsyncIterator[Event]:
    """Engine events as SSE (name, body) pairs in the dialect the client speaks."""

    async def all_events() -> AsyncIterator[TranscriptionEvent]:
        yield first
        async for event in events:
            yield event

    async for event in all_events():
        if fields.response_format is not None:
            body = openai_event(event)
            if body is not None:
                yield body["type"], body
            continue
        yield event.type, _mistral_event(event, model)


def _mistral_event(event: TranscriptionEvent, model: str) -> dict[str, Any]:
    if isinstance(event, DoneEvent):
        return {**mistral_body(event.transcript(), model), "type": event.type}
    body = event.model_dump(mode="json")
    if isinstance(event, SegmentEvent) and body.get("speaker_id") is None:
        body.pop("speaker_id", None)
    return body


def _error_event(exc: Exception) -> Event:
    """An error after the stream began: one last `error` event both SDKs and MistralTranscriber understand."""
    if isinstance(exc, VoxnoteError):
        error = from_voxnote_error(exc)
    else:
        log.exception("transcription failed mid-stream", exc_info=exc)
        error = from_voxnote_error(TranscriptionError("the transcription failed"))
    body = error.body()
    return "error", {"type": "error", "message": error.message, "error": body, "status": error.status}


def _describe(request: TranscriptionRequest) -> str:
    size = len(request.file or b"")
    parts = [f"{size} bytes", f"language={request.language or 'auto'}"]
    if request.diarize:
        parts.append("diarize")
    if request.context_bias:
        parts.append(f"{len(request.context_bias)} bias phrases")
    return ", ".join(parts)
