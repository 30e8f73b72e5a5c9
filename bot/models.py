"""Typed data that crosses the seams: notes from platforms, settings, transcription requests and
results in the Mistral dialect (see ../shared/notes/mistral-transcription-api.md)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, TypeAdapter, field_validator

# ISO 639-1 codes Whisper knows (the union of what Mistral and faster-whisper accept).
WHISPER_LANGUAGES: frozenset[str] = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he "
    "hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl "
    "nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz "
    "vi yi yo zh yue".split()
)
MAX_BIAS_PHRASES = 100
MAX_BIAS_CHARS = 100
#: Candidate languages a channel may name: detection picks among them (more would be auto-detect again).
MAX_LANGUAGE_CANDIDATES = 5


class Platform(StrEnum):
    slack = "slack"
    discord = "discord"
    console = "console"


def normalize_language(value: str | None) -> str | None:
    """`auto`/empty -> None (auto-detect); otherwise a known ISO 639-1 code, lower-cased."""
    if value is None:
        return None
    code = value.strip().lower()
    if code in ("", "auto"):
        return None
    if code not in WHISPER_LANGUAGES:
        raise ValueError(f"unknown language code {value!r}: use an ISO 639-1 code like 'en', or 'auto'")
    return code


def parse_languages(value: str | list[str] | None) -> list[str]:
    """`en fr` / `en,fr` / ["en", "fr"] -> ["en", "fr"]: known codes, no duplicates, in the given order.
    `auto` or nothing -> [] (auto-detect)."""
    if value is None:
        return []
    words = re.split(r"[\s,;/]+", value) if isinstance(value, str) else list(value)
    codes: list[str] = []
    for word in words:
        code = normalize_language(word)
        if code is not None and code not in codes:
            codes.append(code)
    if len(codes) > MAX_LANGUAGE_CANDIDATES:
        raise ValueError(f"name at most {MAX_LANGUAGE_CANDIDATES} candidate languages")
    return codes


def normalize_bias(phrases: list[str]) -> list[str]:
    """Strip, drop empties and duplicates (case-insensitive), enforce the API's limits."""
    seen: set[str] = set()
    out: list[str] = []
    for phrase in phrases:
        p = re.sub(r"\s+", " ", phrase).strip()
        if not p or p.lower() in seen:
            continue
        if len(p) > MAX_BIAS_CHARS:
            raise ValueError(f"bias phrase longer than {MAX_BIAS_CHARS} characters: {p[:30]!r}...")
        seen.add(p.lower())
        out.append(p)
    if len(out) > MAX_BIAS_PHRASES:
        raise ValueError(f"at most {MAX_BIAS_PHRASES} bias phrases per channel")
    return out


class AudioNote(BaseModel):
    """One audio attachment posted on a platform, and where its bytes can be had."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace_id: str = ""
    channel_id: str
    message_id: str
    thread_id: str | None = None
    author_id: str = ""
    attachment_id: str = ""
    filename: str
    mime_type: str | None = None
    size: int | None = None
    duration: float | None = None
    # A URL anyone may fetch (Discord CDN). None: only the adapter can fetch the bytes (Slack).
    public_url: str | None = None
    #: Tells this note from the others of its message (the file name, set when a message holds several):
    #: an adapter that can find a reply only by reading it back writes it there (Discord).
    label: str | None = None
    #: The event did not say what the message holds (a file named without its metadata, a reaction on a
    #: message the bot never saw): the job first asks the platform (`resolve`), where retries live, and
    #: posts nothing for what is not audio. Its `attachment_id` starts with `?`, so its key is its own.
    unresolved: bool = False
    #: A person asked for this language (a flag reaction): it overrides the channel's and the job
    #: re-runs in the note's existing reply. Not part of the key: it is the same note.
    language: str | None = None
    #: A person asked for an English translation under the transcript (a 🌐 reaction).
    translate: bool = False

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return normalize_language(v)

    @property
    def idempotency_key(self) -> str:
        """Same note delivered twice -> same key (redeliveries, retries, restarts)."""
        return message_key(self.platform, self.workspace_id, self.channel_id, self.message_id) + (
            self.attachment_id or self.filename
        )


def message_key(platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> str:
    """What the idempotency keys of every note of one message start with."""
    return ":".join([platform.value, workspace_id, channel_id, message_id, ""])


class ChannelSettings(BaseModel):
    """Per-channel behaviour, stored in SQLite and changed with /voxnote."""

    language: str | None = None  # None = auto-detect
    #: Detection picks among these (`/voxnote language en fr`); empty = any language. Unused when
    #: `language` is set.
    languages: list[str] = Field(default_factory=list)
    context_bias: list[str] = Field(default_factory=list)
    diarize: bool = False
    timestamps: bool = False
    #: An English translation under the transcript of every note not in English.
    translate: bool = False
    auto_transcribe: bool = True
    # Notes longer than this get a summary; None disables summaries.
    summary_threshold_s: float | None = 120.0

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return normalize_language(v)

    @field_validator("languages", mode="before")
    @classmethod
    def _langs(cls, v: str | list[str] | None) -> list[str]:
        return parse_languages(v)

    @field_validator("context_bias", mode="before")
    @classmethod
    def _bias(cls, v: list[str]) -> list[str]:
        return normalize_bias(list(v))

    def describe_language(self) -> str:
        if self.language:
            return self.language
        return f"auto among {', '.join(self.languages)}" if self.languages else "auto"


TimestampGranularity = Literal["segment", "word"]


class TranscriptionRequest(BaseModel):
    """What the bot asks a transcription service for; exactly one audio source."""

    model_config = ConfigDict(arbitrary_types_allowed=True)  # `file_chunks`, an async iterable

    model: str | None = None
    file: bytes | None = Field(default=None, repr=False)
    filename: str = "audio"
    file_url: str | None = None
    file_id: str | None = None
    language: str | None = None
    #: With no `language`: detect it among these only (Whisper's probabilities over the candidates).
    #: Mistral's API has no such field: a remote service gets no language and detects freely.
    languages: list[str] = Field(default_factory=list)
    temperature: float | None = None
    diarize: bool = False
    context_bias: list[str] = Field(default_factory=list)
    timestamp_granularities: list[TimestampGranularity] = Field(default_factory=lambda: ["segment"])
    #: Known voices (Mistral's `speaker_references`): a name -> a short recording of that person. With
    #: `diarize`, a speaker whose voice matches one is labelled with its name instead of `speaker_N`.
    speaker_references: dict[str, bytes] = Field(default_factory=dict, repr=False)
    #: Known voices already embedded (a workspace's enrolled speakers): a name -> its voiceprint. The
    #: bot keeps embeddings, never recordings, so it hands these to an engine that takes them as they are.
    speaker_prints: dict[str, list[float]] = Field(default_factory=dict, repr=False)
    #: The consumer takes the final text from the done event, not from the deltas (the bot, a non-streamed
    #: answer): the local engine may then preview a note's first sentence and decode the whole note for the
    #: final, which need not extend the preview. Off, the deltas always add up to the final text. Never sent.
    final_from_done: bool = False
    #: The note's bytes as they download (the bot's own engine decodes while they arrive): one more kind
    #: of `file`, consumed once, never sent or stored. The engine checks every cap on it as on `file`.
    file_chunks: Annotated[AsyncIterable[bytes] | None, SkipValidation] = Field(default=None, exclude=True, repr=False)

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return normalize_language(v)

    @field_validator("languages", mode="before")
    @classmethod
    def _langs(cls, v: str | list[str] | None) -> list[str]:
        return parse_languages(v)

    def model_post_init(self, __context: object) -> None:
        given = [x for x in (self.file, self.file_url, self.file_id, self.file_chunks) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of file, file_url, file_id, file_chunks")

    @classmethod
    def for_settings(cls, settings: ChannelSettings, **source: object) -> TranscriptionRequest:
        return cls(
            language=settings.language,
            languages=[] if settings.language else list(settings.languages),
            diarize=settings.diarize,
            context_bias=list(settings.context_bias),
            **source,  # type: ignore[arg-type]
        )


class Segment(BaseModel):
    text: str
    start: float
    end: float
    speaker_id: str | None = None
    type: Literal["transcription_segment"] = "transcription_segment"


class Usage(BaseModel):
    prompt_audio_seconds: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Transcript(BaseModel):
    """A finished transcription: the non-streaming answer, and the body of `transcription.done`."""

    model: str = ""
    text: str
    language: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)

    @property
    def duration(self) -> float:
        if self.usage.prompt_audio_seconds:
            return float(self.usage.prompt_audio_seconds)
        return max((s.end for s in self.segments), default=0.0)


class LanguageEvent(BaseModel):
    type: Literal["transcription.language"] = "transcription.language"
    audio_language: str


class TextDeltaEvent(BaseModel):
    type: Literal["transcription.text.delta"] = "transcription.text.delta"
    text: str


class SegmentEvent(BaseModel):
    type: Literal["transcription.segment"] = "transcription.segment"
    text: str
    start: float
    end: float
    speaker_id: str | None = None


class DoneEvent(Transcript):
    type: Literal["transcription.done"] = "transcription.done"

    def transcript(self) -> Transcript:
        return Transcript.model_validate(self.model_dump(exclude={"type"}))


TranscriptionEvent = Annotated[
    Union[LanguageEvent, TextDeltaEvent, SegmentEvent, DoneEvent], Field(discriminator="type")
]
EVENT_ADAPTER: TypeAdapter[TranscriptionEvent] = TypeAdapter(TranscriptionEvent)


class MessageRef(BaseModel):
    """A message the bot posted, enough to edit it or reply in its thread later (stored with the job)."""

    platform: Platform
    channel_id: str
    message_id: str
    thread_id: str | None = None
    #: The note's `label`, which the adapter keeps writing into the message (see `AudioNote.label`).
    label: str | None = None
