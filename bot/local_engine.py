"""The embedded engine: faster-whisper on CPU (int8) behind the Transcriber seam, streaming as it decodes.

Whisper yields nothing until a whole 30 s window is decoded, so a note is cut in two: the first
sentence (found by Silero VAD) is transcribed alone with greedy decoding for a fast first partial, then
the rest in one normal pass with the right time offset (see ../shared/notes/local-engine.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.audio import SAMPLE_RATE, DecodedAudio, load_audio
from bot.config import Settings
from bot.errors import NoSpeech, TranscriptionRejected
from bot.model_files import model_id_for, resolve_model
from bot.models import (
    DoneEvent,
    LanguageEvent,
    Segment,
    SegmentEvent,
    TextDeltaEvent,
    Transcript,
    TranscriptionEvent,
    TranscriptionRequest,
    Usage,
)
from bot.transcriber import complete_from_stream

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

#: Adds `speaker_id` to segments, given the 16 kHz samples they come from (runs in the worker thread).
Diarizer = Callable[[np.ndarray, list[Segment]], list[Segment]]


@dataclass(frozen=True)
class SplitPlan:
    """Tuning of the first-window split, in seconds."""

    # VAD for finding sentence ends: short pauses count, long regions are cut at their last pause.
    min_silence_s: float = 0.3
    speech_pad_s: float = 0.1
    max_region_s: float = 8.0
    # The first window ends at the first pause after this much audio (one short sentence)...
    first_min_s: float = 1.5
    # ...but never spans more than this (else it is just the first speech region).
    first_max_s: float = 25.0
    # The rest is merged into the first window when it holds less speech than this (a tiny tail costs
    # a whole extra window and can set off the temperature fallback).
    tail_min_speech_s: float = 1.5
    # Window for language detection: as much speech as one encoder pass sees.
    detect_s: float = 30.0


@dataclass(frozen=True)
class _Window:
    start: int  # samples
    end: int


class _Stopped(Exception):
    """The consumer went away: stop decoding."""


_END = object()


class LocalTranscriber:
    """faster-whisper `WhisperModel` loaded once (lazily, thread-safe) and shared by every request."""

    #: The in-process engine gets bytes from the bot; it never downloads a URL itself.
    can_fetch_urls = False

    def __init__(self, settings: Settings, *, diarizer: Diarizer | None = None, plan: SplitPlan | None = None) -> None:
        self.settings = settings
        self.diarizer = diarizer
        self.plan = plan or SplitPlan()
        self._model: WhisperModel | None = None
        self._load_lock = threading.Lock()
        # One inference at a time: a second note on 2 cores gains nothing from interleaving.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxnote-engine")

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalTranscriber:
        return cls(settings)

    @property
    def model_id(self) -> str:
        """Id reported in `transcription.done` (`whisper-base`, `whisper-tiny.en`...), known before loading."""
        return model_id_for(self.settings.model)

    def load(self) -> WhisperModel:
        """Resolve and load the model once; later calls return the same instance. Blocking."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                location = resolve_model(self.settings)
                log.info("loading speech model %s from %s", location.model_id, location.path)
                self._model = WhisperModel(
                    location.path,
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self.settings.cpu_threads,
                    num_workers=1,
                )
        return self._model

    async def warm(self) -> None:
        """Load the model (and the VAD) before the first note so that note does not pay for it."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.warm_sync)

    def warm_sync(self) -> None:
        """Blocking `warm`, for callers without an event loop."""
        from faster_whisper.vad import get_vad_model

        self.load()
        get_vad_model()

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        return await complete_from_stream(self.stream(request))

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        """Language, then a delta and a segment per decoded segment, then done; stops early if closed."""
        if request.file is None:
            raise TranscriptionRejected(
                "the built-in engine transcribes uploaded bytes only: send `file`, not `file_url` or `file_id`",
                status=400,
            )
        audio = await load_audio(
            request.file, max_bytes=self.settings.max_audio_bytes, max_seconds=self.settings.max_audio_seconds
        )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            if stop.is_set():
                raise _Stopped
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError as exc:  # the loop is closed: nobody is listening any more
                raise _Stopped from exc

        def work() -> None:
            try:
                self._transcribe(audio, request, emit, stop)
                emit(_END)
            except _Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, raised there
                try:
                    emit(exc)
                except _Stopped:
                    pass

        worker = loop.run_in_executor(self._executor, work)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            if worker.done():
                worker.result()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop taking work; a transcription already running finishes in its thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- worker thread ---------------------------------------------------------------------------

    def _transcribe(
        self, audio: DecodedAudio, request: TranscriptionRequest, emit: Callable[[object], None], stop: threading.Event
    ) -> None:
        model = self.load()
        samples = audio.samples
        first, rest = self._split(samples)
        language = request.language
        if not model.model.is_multilingual:
            language = "en"
        elif language is None:
            detect_end = min(len(samples), first.start + int(self.plan.detect_s * SAMPLE_RATE))
            language, probability, _ = model.detect_language(audio=samples[first.start : detect_end])
            log.debug("detected language %s (p=%.2f)", language, probability)
        emit(LanguageEvent(audio_language=language))

        hotwords = ", ".join(request.context_bias) or None
        temperature: float | tuple[float, ...] = (
            request.temperature if request.temperature is not None else (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
        )
        hold_segments = bool(request.diarize and self.diarizer)
        segments: list[Segment] = []
        pieces: list[str] = []

        def publish(text: str, start: float, end: float) -> None:
            if not text.strip():
                return
            if stop.is_set():
                raise _Stopped
            segment = Segment(text=text.strip(), start=round(start, 2), end=round(end, 2))
            segments.append(segment)
            pieces.append(text)
            emit(TextDeltaEvent(text=text))
            if not hold_segments:
                emit(SegmentEvent(text=segment.text, start=segment.start, end=segment.end))

        # First window alone, greedy and without timestamps: the fastest way to a first partial.
        first_segments, _ = model.transcribe(
            samples[first.start : first.end],
            language=language,
            beam_size=1,
            temperature=temperature,
            without_timestamps=True,
            condition_on_previous_text=False,
            hotwords=hotwords,
            vad_filter=False,
        )
        first_text = "".join(s.text for s in first_segments)
        publish(first_text, first.start / SAMPLE_RATE, first.end / SAMPLE_RATE)

        if rest is not None:
            offset = rest.start / SAMPLE_RATE
            rest_segments, _ = model.transcribe(
                samples[rest.start : rest.end],
                language=language,
                beam_size=self.settings.beam_size,
                temperature=temperature,
                hotwords=hotwords,
                vad_filter=True,
            )
            self._publish_all(rest_segments, offset, publish)

        if not segments:
            raise NoSpeech()
        if hold_segments:
            assert self.diarizer is not None
            segments = self.diarizer(samples, segments)
            for s in segments:
                emit(SegmentEvent(text=s.text, start=s.start, end=s.end, speaker_id=s.speaker_id))
        emit(
            DoneEvent(
                model=self.model_id,
                text="".join(pieces).strip(),
                language=language,
                segments=segments,
                usage=Usage(prompt_audio_seconds=round(audio.duration, 2)),
            )
        )

    @staticmethod
    def _publish_all(segments: Iterable[object], offset: float, publish: Callable[[str, float, float], None]) -> None:
        for seg in segments:  # lazy: each window is decoded only when asked for
            publish(seg.text, seg.start + offset, seg.end + offset)  # type: ignore[attr-defined]

    def _split(self, samples: np.ndarray) -> tuple[_Window, _Window | None]:
        """First window = speech up to the first pause after `first_min_s`; the rest, unless tiny."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        plan = self.plan
        regions = get_speech_timestamps(
            samples,
            VadOptions(
                min_silence_duration_ms=int(plan.min_silence_s * 1000),
                speech_pad_ms=int(plan.speech_pad_s * 1000),
                max_speech_duration_s=plan.max_region_s,
            ),
        )
        if not regions:
            raise NoSpeech()
        start = regions[0]["start"]
        min_end = start + int(plan.first_min_s * SAMPLE_RATE)
        max_len = int(plan.first_max_s * SAMPLE_RATE)
        cut_index = next((i for i, r in enumerate(regions) if r["end"] >= min_end), len(regions) - 1)
        if regions[cut_index]["end"] - start > max_len:
            cut_index = 0
        cut = regions[cut_index]["end"]
        tail = regions[cut_index + 1 :]
        if not tail:
            return _Window(start, cut), None
        tail_speech = sum(r["end"] - r["start"] for r in tail)
        if tail_speech < plan.tail_min_speech_s * SAMPLE_RATE and regions[-1]["end"] - start <= max_len:
            return _Window(start, regions[-1]["end"]), None
        return _Window(start, cut), _Window(cut, len(samples))
