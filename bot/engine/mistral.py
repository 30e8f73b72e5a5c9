"""`MistralTranscriber`: the Transcriber for any HTTP service speaking Mistral's transcription dialect
(Mistral's cloud, `voxnote serve`, compatible servers). Wire format: ../shared/notes/mistral-transcription-api.md."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from pydantic import SecretStr, ValidationError

from bot.errors import StreamInterrupted, TranscriptionError, TranscriptionRejected, TranscriptionUnavailable
from bot.models import (
    EVENT_ADAPTER,
    DoneEvent,
    LanguageEvent,
    SegmentEvent,
    TextDeltaEvent,
    Transcript,
    TranscriptionEvent,
    TranscriptionRequest,
)
from bot.http_api import MAX_BODY_CHARS, RETRYABLE_ERRORS, ApiClient, ApiService, error_message
from bot.retry import RetryPolicy, RetryState

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
FILES_PATH = "/v1/files"
KNOWN_EVENTS = frozenset({"transcription.language", "transcription.text.delta", "transcription.segment",
                          "transcription.done"})
Part = tuple[str, tuple[str | None, bytes] | tuple[str | None, bytes, str]]
_NOT_IN_BIAS = re.compile(r"[\s,]+")


def bias_items(phrases: list[str]) -> list[str]:
    """Phrases as Voxtral 3 takes them: no whitespace or commas in an item (400 otherwise), so a
    multi-word phrase goes with underscores, as Mistral's docs ask; duplicates once. `voxnote serve`
    reads underscores back as spaces."""
    out: list[str] = []
    for phrase in phrases:
        item = _NOT_IN_BIAS.sub("_", phrase.strip()).strip("_")
        if item and item not in out:
            out.append(item)
    return out


def multipart_parts(request: TranscriptionRequest, model: str, *, stream: bool) -> list[Part]:
    """The form in the SDK's order: text fields, list fields once per item, then the file; unset optionals omitted.

    Text fields go as file-less parts so the body is multipart even without a file (httpx would send
    a urlencoded form otherwise, which multipart-only servers refuse)."""
    fields: list[tuple[str, str]] = [("model", request.model or model)]
    if request.file_url is not None:
        fields.append(("file_url", request.file_url))
    if request.file_id is not None:
        fields.append(("file_id", request.file_id))
    if request.language is not None:
        fields.append(("language", request.language))
    if request.temperature is not None:
        fields.append(("temperature", str(request.temperature)))
    fields.append(("stream", "true" if stream else "false"))
    fields.append(("diarize", "true" if request.diarize else "false"))
    fields.extend(("context_bias", item) for item in bias_items(request.context_bias))
    granularities = list(request.timestamp_granularities)
    if request.diarize and "segment" not in granularities:
        granularities.insert(0, "segment")  # Voxtral 3 diarizes only with segment timestamps
    fields.extend(("timestamp_granularities", g) for g in granularities)
    parts: list[Part] = [(name, (None, value.encode())) for name, value in fields]
    if request.file is not None:
        parts.append(("file", (request.filename or "audio", request.file)))
    if request.speaker_references:
        # As the SDK sends it: one compact JSON part (name -> base64 audio) after the file.
        references = {name: base64.b64encode(audio).decode() for name, audio in request.speaker_references.items()}
        parts.append(("speaker_references", (None, json.dumps(references, separators=(",", ":")).encode(),
                                             "application/json")))
    return parts


def transcript_events(transcript: Transcript) -> list[TranscriptionEvent]:
    """The events a streaming server would have sent for this transcript (for servers that ignore `stream`)."""
    events: list[TranscriptionEvent] = []
    if transcript.language:
        events.append(LanguageEvent(audio_language=transcript.language))
    if transcript.text:
        events.append(TextDeltaEvent(text=transcript.text))
    events.extend(SegmentEvent(text=s.text, start=s.start, end=s.end, speaker_id=s.speaker_id)
                  for s in transcript.segments)
    events.append(DoneEvent(**transcript.model_dump()))
    return events


def parse_event(sse: ServerSentEvent) -> TranscriptionEvent | None:
    """One SSE message -> a typed event; None for keep-alives and event types this version does not know."""
    if not sse.data or sse.data.strip() == "[DONE]":
        return None
    try:
        data = json.loads(sse.data)
    except ValueError as exc:
        raise TranscriptionError(f"malformed event from the transcription service: {sse.data[:200]!r}") from exc
    if not isinstance(data, dict):
        return None
    kind = data.get("type") or sse.event
    if kind == "error" or sse.event == "error":
        raise StreamInterrupted(f"the transcription service reported an error: {error_message(sse.data)}")
    if kind not in KNOWN_EVENTS:
        log.debug("ignoring unknown transcription event %r", kind)
        return None
    try:
        return EVENT_ADAPTER.validate_python({**data, "type": kind})
    except ValidationError as exc:
        raise TranscriptionError(f"malformed {kind} event from the transcription service") from exc


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _is_sse(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


class MistralTranscriber(ApiClient):
    """Transcriber over HTTP: `complete` posts one multipart request, `stream` reads Server-Sent Events.

    Connect errors, timeouts, 429 and 5XX are retried with jittered backoff (honouring Retry-After)
    within `retry`; other 4XX raise `TranscriptionRejected` at once."""

    can_fetch_urls: bool = True
    service = ApiService("the transcription service", "transcription", log, unavailable=TranscriptionUnavailable,
                         rejected=TranscriptionRejected, error=TranscriptionError)

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None = None,
        model: str = "voxtral-mini-latest",
        *,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 300.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, model, timeout_s=request_timeout_s, connect_timeout_s=connect_timeout_s,
                         retry=retry, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MistralTranscriber:
        return cls(**{
            "base_url": settings.mistral_base_url,
            "api_key": settings.mistral_api_key,
            "model": settings.mistral_model,
            "connect_timeout_s": settings.connect_timeout_s,
            "request_timeout_s": settings.request_timeout_s,
            "retry": RetryPolicy(max_retries=settings.max_retries),
            **overrides,
        })

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        response = await self._send(
            "POST",
            TRANSCRIPTIONS_PATH,
            files=multipart_parts(request, self.model, stream=False),
            headers={"Accept": "application/json"},
        )
        try:
            return Transcript.model_validate_json(response.content)
        except ValidationError as exc:
            raise TranscriptionError(
                "the transcription service sent an answer voxnote cannot read",
                status=response.status_code,
                body=response.text[:MAX_BODY_CHARS],
            ) from exc

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        """Events as they arrive; retried only until the first event, after that a cut is `StreamInterrupted`."""
        state = RetryState(self.retry)
        yielded = 0
        parts = multipart_parts(request, self.model, stream=True)
        while True:
            try:
                async with aconnect_sse(self._client, "POST", TRANSCRIPTIONS_PATH, files=parts) as source:
                    response = source.response
                    if response.status_code != 200:
                        await response.aread()
                        failure = self._failure(response)
                    elif _is_json(response):
                        # Some compatible servers ignore `stream` and answer in one piece.
                        await response.aread()
                        for event in transcript_events(Transcript.model_validate_json(response.content)):
                            yielded += 1
                            yield event
                        return
                    elif not _is_sse(response):
                        raise TranscriptionError(
                            f"unexpected content type {response.headers.get('content-type')!r} from the "
                            "transcription service",
                            status=response.status_code,
                        )
                    else:
                        async for sse in source.aiter_sse():
                            event = parse_event(sse)
                            if event is None:
                                continue
                            yielded += 1
                            yield event
                            if isinstance(event, DoneEvent):
                                return
                        failure = StreamInterrupted(
                            f"the transcription stream ended after {yielded} events without transcription.done",
                            status=200,
                        )
            except StreamInterrupted as exc:
                failure = exc
            except RETRYABLE_ERRORS as exc:
                if yielded:
                    raise StreamInterrupted(
                        f"the transcription stream was cut after {yielded} events ({type(exc).__name__})", status=200
                    ) from exc
                failure = self._unreachable(exc)
            except ValidationError as exc:
                raise TranscriptionError("the transcription service sent an answer voxnote cannot read") from exc
            if yielded:
                raise failure
            await self._backoff(state, failure)

    async def upload_file(self, data: bytes, filename: str, purpose: str = "audio") -> str:
        """Upload audio to /v1/files; returns the `file_id` to transcribe later."""
        response = await self._send(
            "POST", FILES_PATH, files=[("purpose", (None, purpose.encode())), ("file", (filename, data))]
        )
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TranscriptionError("the files endpoint answered without an id", status=response.status_code) from exc

    async def delete_file(self, file_id: str) -> None:
        await self._send("DELETE", f"{FILES_PATH}/{file_id}")
