"""`VOXNOTE_TRANSCRIBER=realtime`: the note as 16 kHz PCM over Mistral's realtime websocket
(`/v1/audio/transcriptions/realtime` at `VOXNOTE_MISTRAL_BASE_URL`, e.g. a `voxnote serve`).

The note is decoded here while it downloads (`DownloadDecode`, with every cap of the local decoder), and
each decoded piece goes out at once, so the service transcribes the first sentence while the rest of the
file is still on its way; its `transcription.text.delta / segment / language / done` events become the
bot's own. The final is what the service makes of the stream (pieces cut at pauses), not a second pass
over the whole note. Wire format: ../shared/notes/mistral-transcription-api.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import websockets
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect

from bot.config import Settings
from bot.engine.audio_stream import DownloadDecode
from bot.engine.transcriber import complete_from_stream
from bot.errors import StreamInterrupted, TranscriptionRejected, TranscriptionUnavailable
from bot.models import EVENT_ADAPTER, DoneEvent, Transcript, TranscriptionEvent, TranscriptionRequest

log = logging.getLogger(__name__)

REALTIME_PATH = "/v1/audio/transcriptions/realtime"
#: PCM bytes per `input_audio.append`: 5 s of 16 kHz s16le, under the 262,144 the API allows. A file
#: decodes far faster than real time, and `voxnote serve` looks for pauses (VAD) at every append: 0.5 s
#: appends of a 173 s note cost it 346 VAD passes and delayed the first text to 7.4 s.
APPEND_BYTES = 160_000
_CLOSED_NORMALLY = 1000


def realtime_url(base_url: str, model: str) -> str:
    """The websocket URL of the realtime API under an HTTP base URL (https -> wss, http -> ws)."""
    base = base_url.split(",")[0].strip().rstrip("/")
    scheme, _, rest = base.partition("://")
    ws_scheme = {"https": "wss", "http": "ws"}.get(scheme.lower())
    if ws_scheme is None:
        raise TranscriptionRejected(f"the realtime API needs an http(s) base URL, not {scheme!r}")
    return f"{ws_scheme}://{rest}{REALTIME_PATH}?model={model}"


def _pcm_bytes(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class RealtimeTranscriber:
    """A Transcriber over the realtime websocket; one connection per note."""

    can_fetch_urls = False  # the realtime API takes audio only
    accepts_chunks = True  # and it is fed while the note downloads

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = realtime_url(settings.mistral_base_url, settings.mistral_model)

    @classmethod
    def from_settings(cls, settings: Settings) -> RealtimeTranscriber:
        return cls(settings)

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        return await complete_from_stream(self.stream(request))

    async def aclose(self) -> None:
        return None

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        if request.file is None and request.file_chunks is None:
            raise TranscriptionRejected("the realtime API takes the note's audio, not a URL or file id", status=400)
        chunks = request.file_chunks if request.file_chunks is not None else _once(request.file or b"")
        key = self.settings.mistral_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
        async with DownloadDecode(chunks, max_bytes=self.settings.max_audio_bytes,
                                  max_seconds=self.settings.max_audio_seconds, head_seconds=0, pcm=True) as audio:
            try:
                async with connect(self.url, additional_headers=headers, open_timeout=self.settings.connect_timeout_s,
                                   max_size=2**24) as ws:
                    await self._expect(ws, "session.created")
                    await ws.send(json.dumps({"type": "session.update", "session": self._session(request)}))
                    await self._expect(ws, "session.updated")
                    sender = asyncio.create_task(self._send_audio(ws, audio))
                    try:
                        async for event in self._events(ws, sender):
                            yield event
                            if isinstance(event, DoneEvent):
                                return
                    finally:
                        sender.cancel()
                        with contextlib.suppress(BaseException):
                            await sender
            except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if status is not None and 400 <= status < 500 and status != 429:
                    raise TranscriptionRejected(f"the realtime API refused the connection (HTTP {status})",
                                                status=status) from exc
                raise TranscriptionUnavailable(f"the realtime API could not be reached ({type(exc).__name__})",
                                               status=status) from exc
            except websockets.exceptions.ConnectionClosed as exc:
                raise StreamInterrupted(f"the realtime API closed the connection ({exc})") from exc
        raise StreamInterrupted("the realtime API ended without transcription.done")

    def _session(self, request: TranscriptionRequest) -> dict[str, Any]:
        if request.diarize:
            log.info("the realtime API labels no speakers: this note gets none")
        session: dict[str, Any] = {"audio_format": {"encoding": "pcm_s16le", "sample_rate": 16000}}
        if request.language:
            session["language"] = request.language
        if request.context_bias:
            session["context_bias"] = request.context_bias
        return session

    async def _send_audio(self, ws: ClientConnection, audio: DownloadDecode) -> None:
        """Each decoded piece out as it comes, in appends of at most APPEND_BYTES; then the end."""
        pending = b""
        async for piece in audio.pcm():
            pending += _pcm_bytes(piece)
            while len(pending) >= APPEND_BYTES:
                await self._append(ws, pending[:APPEND_BYTES])
                pending = pending[APPEND_BYTES:]
        await audio.whole()  # a cap or a damaged file stops the note here, before the service ends it
        if pending:
            await self._append(ws, pending)
        await ws.send(json.dumps({"type": "input_audio.end"}))

    @staticmethod
    async def _append(ws: ClientConnection, pcm: bytes) -> None:
        await ws.send(json.dumps({"type": "input_audio.append", "audio": base64.b64encode(pcm).decode()}))

    async def _expect(self, ws: ClientConnection, kind: str) -> None:
        message = await asyncio.wait_for(ws.recv(), self.settings.request_timeout_s)
        event = _parse(message)
        if event.get("type") == "error":
            raise _error(event)
        if event.get("type") != kind:
            raise TranscriptionRejected(f"the realtime API answered {event.get('type')!r}, not {kind!r}")

    async def _events(self, ws: ClientConnection, sender: asyncio.Task[None]) -> AsyncIterator[TranscriptionEvent]:
        """The service's events as the bot's, until done; the sender's error (the download's: a cap, a
        failure) ends the note as soon as it happens."""
        receiving: asyncio.Future[Any] | None = None
        try:
            while True:
                if receiving is None:
                    receiving = asyncio.ensure_future(ws.recv())
                waiting = {receiving} if sender.done() else {receiving, sender}
                done, _ = await asyncio.wait(waiting, timeout=self.settings.request_timeout_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if sender.done() and not sender.cancelled() and sender.exception() is not None:
                    raise sender.exception()  # type: ignore[misc]
                if not done:
                    raise TranscriptionUnavailable("the realtime API sent nothing for too long")
                if not receiving.done():
                    continue  # all audio is out; the service is transcribing the rest
                event = _parse(receiving.result())
                receiving = None
                converted = _event(event)
                if converted is not None:
                    yield converted
        finally:
            if receiving is not None and not receiving.done():
                receiving.cancel()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _parse(message: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(message)
    except ValueError as exc:
        raise TranscriptionRejected("the realtime API sent something that is not JSON") from exc
    if not isinstance(event, dict):
        raise TranscriptionRejected("the realtime API sent something that is not a JSON object")
    return event


def _error(event: dict[str, Any]) -> Exception:
    error = event.get("error") or {}
    message = str(error.get("message") or "error") if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) else None
    if status in (429, 500, 502, 503, 504) or status is None:
        return TranscriptionUnavailable(f"the realtime API: {message}", status=status)
    return TranscriptionRejected(f"the realtime API: {message}", status=status)


def _event(event: dict[str, Any]) -> TranscriptionEvent | None:
    """The bot's event for one of the service's; None for those it does not act on (session.*)."""
    kind = event.get("type")
    if kind == "error":
        raise _error(event)
    if kind not in _EVENTS:
        return None
    try:
        return EVENT_ADAPTER.validate_python(event)
    except ValidationError as exc:
        raise TranscriptionRejected(f"the realtime API sent a malformed {kind}") from exc


_EVENTS = {"transcription.text.delta", "transcription.segment", "transcription.language", "transcription.done"}
