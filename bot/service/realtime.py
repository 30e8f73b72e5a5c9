"""Mistral's realtime transcription websocket (`/v1/audio/transcriptions/realtime`) on the engine.

The client sends raw PCM in `input_audio.append` messages; Whisper is no streaming model, so the audio
is cut at pauses (Silero VAD) into pieces of a few seconds, each transcribed as soon as it is complete,
and its text and segment sent at once. `input_audio.flush` transcribes what is pending now;
`input_audio.end` the rest, then `transcription.done` with the whole text, and the socket closes.
Wire format: the `mistralai` SDK's `extra/realtime` (see ../shared/notes/mistral-transcription-api.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import uuid
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.engine.audio import encode_wav
from bot.errors import VoxnoteError
from bot.models import Segment, TranscriptionRequest, Usage, normalize_bias, normalize_language
from bot.service.api_errors import ApiError
from bot.service.auth import check_bearer
from bot.service.limits import QueueFull
from bot.service.state import Service

log = logging.getLogger(__name__)
router = APIRouter()

REALTIME_PATH = "/v1/audio/transcriptions/realtime"
SAMPLE_RATE = 16000
#: What one `input_audio.append` may carry once decoded (Mistral's documented limit).
MAX_APPEND_BYTES = 262_144
#: A piece is sent to the engine once it holds this much audio and ends in a pause...
PIECE_MIN_S = 3.0
PAUSE_S = 0.2  # real speech pauses 0.2-0.4 s between sentences
#: ... and at this length whatever it holds (one Whisper window, with room for the cut).
PIECE_MAX_S = 28.0
Encoding = Literal["pcm_s16le", "pcm_s32le", "pcm_f16le", "pcm_f32le", "mulaw", "alaw"]
# Websocket close codes: a refused handshake, and a stream past the length limit.
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009


class AudioFormat(BaseModel):
    encoding: Encoding = "pcm_s16le"
    sample_rate: int = Field(SAMPLE_RATE, ge=8000, le=96000)


class SessionUpdate(BaseModel):
    """The fields of `session.update` this service acts on; the others are accepted and ignored."""

    audio_format: AudioFormat | None = None
    language: str | None = None
    context_bias: list[str] | None = None
    diarize: bool | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> str | None:
        return normalize_language(value)

    @field_validator("context_bias", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> list[str] | None:
        return None if value is None else normalize_bias([str(v).replace("_", " ") for v in value])


def _g711_tables() -> dict[str, np.ndarray]:
    """The 256 sample values of mu-law and A-law bytes (ITU-T G.711), as float32 in [-1, 1]."""
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    mu = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    mu = np.where(u & 0x80, 0x84 - mu, mu - 0x84)
    a = codes ^ 0x55
    seg = (a & 0x70) >> 4
    mag = np.where(seg == 0, ((a & 0x0F) << 4) + 8, (((a & 0x0F) << 4) + 0x108) << np.maximum(seg - 1, 0))
    alaw = np.where(a & 0x80, mag, -mag)
    return {"mulaw": (mu / 32768.0).astype(np.float32), "alaw": (alaw / 32768.0).astype(np.float32)}


_G711 = _g711_tables()


def pcm_to_float(data: bytes, encoding: Encoding) -> np.ndarray:
    """Raw PCM bytes -> float32 samples in [-1, 1]; a trailing partial sample is an error."""
    if encoding in _G711:
        return _G711[encoding][np.frombuffer(data, dtype=np.uint8)]
    dtype, scale = {"pcm_s16le": ("<i2", 32768.0), "pcm_s32le": ("<i4", 2147483648.0),
                    "pcm_f16le": ("<f2", 1.0), "pcm_f32le": ("<f4", 1.0)}[encoding]
    width = np.dtype(dtype).itemsize
    if len(data) % width:
        raise ValueError(f"{encoding} audio comes in {width}-byte samples: {len(data)} bytes is not whole samples")
    return (np.frombuffer(data, dtype=dtype).astype(np.float32) / np.float32(scale)).clip(-1.0, 1.0)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32)


def cut_point(pending: np.ndarray) -> tuple[int, bool] | None:
    """Where to end the next piece, and whether it holds speech: the middle of the last pause once
    PIECE_MIN_S are in, or a hard cut at PIECE_MAX_S; None to wait for more audio."""
    if len(pending) < PIECE_MIN_S * SAMPLE_RATE:
        return None
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    regions = get_speech_timestamps(pending, VadOptions(min_silence_duration_ms=int(PAUSE_S * 1000), speech_pad_ms=0))
    if not regions:
        # Nothing but silence so far: not worth the engine; keep the last half second (speech may begin).
        return len(pending) - SAMPLE_RATE // 2, False
    ends = [(a["end"] + b["start"]) // 2 for a, b in zip(regions, regions[1:], strict=False)]
    # The last region is still open unless the pause after it is long enough already.
    if len(pending) - regions[-1]["end"] >= PAUSE_S * SAMPLE_RATE:
        ends.append(regions[-1]["end"] + int(PAUSE_S * SAMPLE_RATE / 2))
    ends = [e for e in ends if e >= PIECE_MIN_S * SAMPLE_RATE // 2]
    if ends:
        return ends[-1], True
    return (int(PIECE_MAX_S * SAMPLE_RATE), True) if len(pending) >= PIECE_MAX_S * SAMPLE_RATE else None


class _Refused(Exception):
    """The stream broke a limit: the session ends, its close code says why."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class RealtimeSession:
    """One websocket's state: its settings, the audio not yet transcribed, and what came of the rest."""

    def __init__(self, ws: WebSocket, service: Service, model: str) -> None:
        self.ws = ws
        self.service = service
        self.model = model
        self.request_id = uuid.uuid4().hex
        self.format = AudioFormat()
        self.language: str | None = None
        self.context_bias: list[str] = []
        self.started = False
        self.pending = np.zeros(0, dtype=np.float32)
        self.offset = 0.0  # seconds of audio before `pending`
        self.total = 0.0
        self.segments: list[Segment] = []
        self.detected: str | None = None
        self.pieces: asyncio.Queue[tuple[np.ndarray, float] | None] = asyncio.Queue()
        self.send_lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "model": self.model, "audio_format": self.format.model_dump(),
                "language": self.language, "context_bias": self.context_bias, "diarize": False}

    async def send(self, event: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(event))

    async def error(self, message: str, code: int = 400) -> None:
        await self.send({"type": "error", "error": {"message": message, "code": code}})

    # --- client messages ------------------------------------------------------------------------
    async def update(self, payload: Any) -> None:
        try:
            update = SessionUpdate.model_validate(payload or {})
        except (ValidationError, ValueError) as exc:
            await self.error(f"invalid session.update: {exc.errors()[0]['msg'] if isinstance(exc, ValidationError) else exc}")
            return
        if self.started and (update.audio_format is not None or update.language is not None
                             or update.context_bias is not None):
            await self.error("session settings must be set before audio is sent")
            return
        if update.diarize:
            await self.error("this service does not label speakers on the realtime API: use the batch endpoint")
            return
        if update.audio_format is not None:
            self.format = update.audio_format
        if update.language is not None:
            self.language = update.language
        if update.context_bias is not None:
            self.context_bias = update.context_bias
        await self.send({"type": "session.updated", "session": self.describe()})

    async def append(self, encoded: Any) -> None:
        try:
            data = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            await self.error("input_audio.append: `audio` must be base64")
            return
        if len(data) > MAX_APPEND_BYTES:
            await self.error(f"input_audio.append carries at most {MAX_APPEND_BYTES} bytes of audio")
            return
        try:
            samples = to_16k(pcm_to_float(data, self.format.encoding), self.format.sample_rate)
        except ValueError as exc:
            await self.error(str(exc))
            return
        self.started = True
        self.total += len(samples) / SAMPLE_RATE
        if self.total >= self.service.settings.max_audio_seconds:
            await self.error(f"the stream reached the {self.service.settings.max_audio_seconds / 60:.0f} min limit", 413)
            raise _Refused(MESSAGE_TOO_BIG)
        self.pending = np.concatenate([self.pending, samples])
        while (cut := cut_point(self.pending)) is not None and cut[0] > 0:
            at, speech = cut
            if speech:
                self._enqueue(at)
            else:
                self.pending = self.pending[at:]
                self.offset += at / SAMPLE_RATE

    def flush(self) -> None:
        if len(self.pending):
            self._enqueue(len(self.pending))

    def _enqueue(self, cut: int) -> None:
        piece, self.pending = self.pending[:cut], self.pending[cut:]
        self.pieces.put_nowait((piece, self.offset))
        self.offset += cut / SAMPLE_RATE

    # --- the engine, one piece at a time -----------------------------------------------------------
    async def transcribe_pieces(self) -> None:
        while (item := await self.pieces.get()) is not None:
            piece, offset = item
            ticket = None
            try:
                ticket = self.service.limiter.admit()
                await ticket.start()
                request = TranscriptionRequest(
                    file=encode_wav(piece), filename="realtime.wav", language=self.language or self.detected,
                    context_bias=self.context_bias, final_from_done=True,
                )
                transcript = await self.service.transcriber.complete(request)
            except QueueFull:
                await self.error("the engine is busy: try again shortly", 429)
                continue
            except VoxnoteError as exc:
                if exc.__class__.__name__ != "NoSpeech":
                    await self.error(str(exc))
                continue
            finally:
                if ticket is not None:
                    ticket.close()
            if self.detected is None and transcript.language:
                # Later pieces keep the first one's language: a short piece is where detection errs.
                self.detected = transcript.language
                await self.send({"type": "transcription.language", "audio_language": transcript.language})
            for seg in transcript.segments:
                shifted = Segment(text=seg.text, start=round(seg.start + offset, 2), end=round(seg.end + offset, 2))
                if not shifted.text.strip():
                    continue
                lead = " " if self.segments else ""
                self.segments.append(shifted)
                await self.send({"type": "transcription.text.delta", "text": lead + shifted.text.strip()})
                await self.send({"type": "transcription.segment", "text": shifted.text, "start": shifted.start,
                                 "end": shifted.end})

    async def done(self) -> None:
        text = " ".join(s.text.strip() for s in self.segments)
        await self.send({
            "type": "transcription.done", "model": self.model, "text": text,
            "language": self.language or self.detected,
            "segments": [s.model_dump(mode="json", exclude_none=True) for s in self.segments],
            "usage": Usage(prompt_audio_seconds=round(self.total)).model_dump(),
        })


@router.websocket(REALTIME_PATH)
async def realtime(ws: WebSocket, model: str = "") -> None:
    service: Service = ws.app.state.service
    try:
        check_bearer(ws.headers.get("authorization"), service.api_keys)
        engine_model = service.catalog.resolve(model)
    except ApiError as exc:
        # Refused at the handshake: the client sees the HTTP status (403), nothing reaches the engine.
        log.info("realtime connection refused: %s", exc.message)
        await ws.close(code=POLICY_VIOLATION, reason=exc.message[:120])
        return
    await ws.accept()
    session = RealtimeSession(ws, service, engine_model)
    worker = asyncio.create_task(session.transcribe_pieces(), name="voxnote-realtime")
    try:
        await session.send({"type": "session.created", "session": session.describe()})
        while True:
            try:
                message = json.loads(await ws.receive_text())
            except ValueError:
                await session.error("messages are JSON objects")
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "session.update":
                await session.update(message.get("session"))
            elif kind == "input_audio.append":
                await session.append(message.get("audio"))
            elif kind == "input_audio.flush":
                session.flush()
            elif kind == "input_audio.end":
                session.flush()
                session.pieces.put_nowait(None)
                await worker
                await session.done()
                await ws.close()
                return
            else:
                await session.error(f"unknown message type {kind!r}")
    except _Refused as refused:
        await ws.close(code=refused.code)
    except WebSocketDisconnect:
        log.info("realtime client left (%s)", session.request_id)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
