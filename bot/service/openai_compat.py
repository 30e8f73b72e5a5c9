"""OpenAI's dialect on the same path: `response_format` answers and `transcript.text.*` stream events.

A request that names a `response_format` is taken for an OpenAI client; without it the answer is Mistral's."""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bot.models import DoneEvent, TextDeltaEvent, Transcript, TranscriptionEvent
from bot.render import to_srt, to_vtt

ResponseFormat = Literal["json", "verbose_json", "text", "srt", "vtt"]
RESPONSE_FORMATS: tuple[str, ...] = ("json", "verbose_json", "text", "srt", "vtt")


def audio_seconds(transcript: Transcript) -> int:
    """Whole seconds, rounded up: Mistral's SDK reads `usage.prompt_audio_seconds` as an integer."""
    return math.ceil(transcript.duration)


def mistral_body(transcript: Transcript, model: str) -> dict[str, Any]:
    """The non-streaming Mistral answer (also the body of `transcription.done`)."""
    body = transcript.model_dump(mode="json")
    body["model"] = model
    body["usage"]["prompt_audio_seconds"] = audio_seconds(transcript)
    for segment in body["segments"]:
        if segment.get("speaker_id") is None:
            segment.pop("speaker_id", None)
    return body


def verbose_json(transcript: Transcript) -> dict[str, Any]:
    """OpenAI's `verbose_json`; Whisper's per-segment statistics are not kept, so they carry neutral values."""
    return {
        "task": "transcribe",
        "language": transcript.language or "",
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": [
            {
                "id": i,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
                **({"speaker_id": s.speaker_id} if s.speaker_id else {}),
            }
            for i, s in enumerate(transcript.segments)
        ],
        "usage": {"type": "duration", "seconds": audio_seconds(transcript)},
    }


def openai_response(transcript: Transcript, response_format: ResponseFormat, diarize: bool) -> Response:
    if response_format == "text":
        return PlainTextResponse(transcript.text)
    if response_format == "srt":
        return PlainTextResponse(to_srt(transcript, diarize), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(transcript, diarize), media_type="text/vtt")
    if response_format == "verbose_json":
        return JSONResponse(verbose_json(transcript))
    return JSONResponse(
        {"text": transcript.text, "usage": {"type": "duration", "seconds": audio_seconds(transcript)}}
    )


def openai_event(event: TranscriptionEvent) -> dict[str, Any] | None:
    """OpenAI streams only text: a delta per piece and the whole text at the end."""
    if isinstance(event, TextDeltaEvent):
        return {"type": "transcript.text.delta", "delta": event.text}
    if isinstance(event, DoneEvent):
        transcript = event.transcript()
        return {
            "type": "transcript.text.done",
            "text": transcript.text,
            "usage": {"type": "duration", "seconds": audio_seconds(transcript)},
        }
    return None
