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

from bot.engine import privacy
from bot.engine.audio import SAMPLE_RATE, DecodedAudio, load_audio
from bot.config import Settings
from bot.errors import NoSpeech, TranscriptionRejected, VoxnoteError
from bot.engine.model_files import model_id_for, resolve_model
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
from bot.engine.transcriber import complete_from_stream

if TYPE_CHECKING:
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from faster_whisper.tokenizer import Tokenizer

log = logging.getLogger(__name__)

# Before faster-whisper can import onnxruntime (Silero VAD): its telemetry is read at import time.
privacy.disable_library_telemetry()

#: Adds `speaker_id` to segments, given the 16 kHz samples they come from (runs in the worker thread).
Diarizer = Callable[[np.ndarray, list[Segment]], list[Segment]]


@dataclass(frozen=True)
class SplitPlan:
    """Tuning of the first-window split, in seconds."""

    # VAD for finding sentence ends: short pauses count, long regions are cut at their last pause.
    min_silence_s: float = 0.25
    max_region_s: float = 8.0
    # Audio kept before the first word: Whisper tends to drop a word that starts the input abruptly.
    lead_in_s: float = 0.5
    # The first window ends at the first pause after this much speech (one short sentence)...
    first_min_s: float = 1.5
    # ...but never spans more than this (else it is just the first speech region).
    first_max_s: float = 25.0
    # The rest is merged into the first window when it holds less speech than this (a tiny tail costs
    # a whole extra window and can set off the temperature fallback).
    tail_min_speech_s: float = 1.5
    # The first window's encoder input: at least this long, and this much longer than its audio.
    first_pad_min_s: float = 10.0
    first_pad_margin_s: float = 5.0
    # Language is detected on the first window; below this confidence, again on `detect_s` of speech.
    detect_min_probability: float = 0.7
    detect_s: float = 30.0
    # VAD scans only this head of a long note to place the first cut.
    vad_head_s: float = 60.0
    # A note still downloading: its preview starts once this much of it is decoded (room for a first
    # sentence and the pause after it; the bytes of 12 s of Opus are a few dozen KB).
    stream_head_s: float = 12.0


@dataclass(frozen=True)
class _Split:
    start: int  # samples: where the first window starts
    cut: int  # where it ends and the rest begins (len(samples) when there is no rest)
    regions: list[dict[str, int]]  # VAD speech regions, in samples
    scanned: int  # VAD looked at samples[:scanned] only (long notes); beyond it, speech is assumed


@dataclass(frozen=True)
class _Piece:
    text: str  # as decoded, with its leading space
    start: float  # seconds from the start of the note
    end: float


class _Stopped(Exception):
    """The consumer went away: stop decoding."""


_END = object()
# Streamed without final_from_done, rests at least this long are decoded in batches of windows
# (BatchedInferencePipeline). Finals never are: see `_whole_final`.
BATCH_MIN_S = 60.0
BATCH_SIZE = 8
# Notes up to one Whisper window long: their whole decode comes at once, so the text past the preview
# goes out in one delta at the end; longer notes stream it window by window as it is decoded.
WHOLE_FINAL_MAX_S = 30.0


class LocalTranscriber:
    """faster-whisper `WhisperModel` loaded once (lazily, thread-safe) and shared by every request.

    Speaker labels: set `diarizer` (samples, segments) -> segments with `speaker_id`. It runs when a
    request asks for `diarize`; text deltas still stream live, segment events wait for the labels.
    """

    #: The in-process engine gets bytes from the bot; it never downloads a URL itself.
    can_fetch_urls = False
    #: It matches a request's `speaker_prints` itself (the pipeline need not name speakers after it).
    names_voiceprints = True
    #: It decodes a note's bytes as they download (`file_chunks`), so recognition starts before the last one.
    accepts_chunks = True

    def __init__(self, settings: Settings, *, diarizer: Diarizer | None = None, plan: SplitPlan | None = None) -> None:
        self.settings = settings
        self.diarizer = diarizer
        #: The speaker model itself, for naming voices (`speaker_references`); None with an injected diarizer.
        self.voices: Diarizer | None = None
        self._speakers_tried = False
        self._batched_pipeline: BatchedInferencePipeline | None = None
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

    def _batched(self, model: WhisperModel) -> BatchedInferencePipeline:
        if self._batched_pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            self._batched_pipeline = BatchedInferencePipeline(model)
        return self._batched_pipeline

    def speaker_model(self) -> Diarizer | None:
        """The diarizer, loaded on first use (about 0.2 s, which most notes never need to pay).

        None when it cannot be loaded (its weights file missing): notes then come back without speaker ids."""
        if self.diarizer is not None or self._speakers_tried:
            return self.diarizer
        with self._load_lock:
            if self.diarizer is None and not self._speakers_tried:
                self._speakers_tried = True
                try:
                    from bot.engine.diarize import Diarizer as SpeakerModel

                    self.voices = SpeakerModel.load()
                    self.diarizer = self.voices.assign
                    log.info("speaker model loaded: diarize=true labels speakers")
                except (ImportError, VoxnoteError, OSError, RuntimeError) as exc:
                    log.warning("no speaker model (%s): diarize=true is answered without speaker ids", exc)
        return self.diarizer

    def warm_sync(self) -> None:
        """Blocking `warm`, for callers without an event loop."""
        from faster_whisper.vad import get_vad_model

        self.load()
        get_vad_model()

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        return await complete_from_stream(self.stream(request))

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        """Language, then a delta and a segment per decoded segment, then done; stops early if closed."""
        if request.file_chunks is not None:
            async for event in self._stream_download(request):
                yield event
            return
        if request.file is None:
            raise TranscriptionRejected(
                "the built-in engine transcribes uploaded bytes only: send `file`, not `file_url` or `file_id`",
                status=400,
            )
        audio = await load_audio(
            request.file, max_bytes=self.settings.max_audio_bytes, max_seconds=self.settings.max_audio_seconds
        )
        async for event in self._decoded(audio, request):
            yield event

    async def _decoded(self, audio: DecodedAudio, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        if audio.silent:
            # Digital silence (or below any speech VAD can hear): answered at once, without taking the
            # engine for VAD over the whole recording (3 h of silence held it for minutes).
            raise NoSpeech(f"no speech found in this recording (it is silent: {audio.duration:.0f} s without a sound)")
        async for event in self._engine_job(lambda emit, stop: self._transcribe(audio, request, emit, stop)):
            yield event

    async def _stream_download(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        """The note decoded as it downloads: the preview starts on its head while the rest still arrives;
        the final is the same whole-note decode as for `file` (it needs the last byte anyway)."""
        assert request.file_chunks is not None
        from bot.engine.audio_stream import DownloadDecode

        async with DownloadDecode(request.file_chunks, max_bytes=self.settings.max_audio_bytes,
                                  max_seconds=self.settings.max_audio_seconds,
                                  head_seconds=self.plan.stream_head_s) as download:
            head = await download.head() if request.final_from_done else None
            preview: list[_Piece] = []
            if head is not None:
                # The engine is taken for the preview only: it is free again while the download goes on.
                async for event in self._engine_job(lambda emit, stop: preview.extend(self._preview(head, request, emit))):
                    yield event
            audio = await download.whole()
        if not preview:
            async for event in self._decoded(audio, request):
                yield event
            return

        def final(emit: Callable[[object], None], stop: threading.Event) -> None:
            model = self.load()
            hotwords = ", ".join(request.context_bias) or None
            diarizer = self.speaker_model() if request.diarize else None
            prints = self._reference_prints(request) if diarizer is not None else {}
            self._whole_final(model, audio, request, hotwords, diarizer, "".join(p.text for p in preview), emit,
                              stop, prints, preview_end=preview[-1].end)

        async for event in self._engine_job(final):
            yield event

    async def _engine_job(
        self, job: Callable[[Callable[[object], None], threading.Event], None]
    ) -> AsyncIterator[TranscriptionEvent]:
        """Run `job(emit, stop)` on the engine thread and yield what it emits; leaving early stops it."""
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
            if stop.is_set():  # the consumer left while this job waited for the engine
                return
            try:
                job(emit, stop)
                emit(_END)
            except _Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, raised there
                try:
                    emit(exc)
                except _Stopped:
                    pass

        loop.run_in_executor(self._executor, work)
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

    async def translate(self, request: TranscriptionRequest, source_language: str | None) -> str:
        """English text of the note, by Whisper's own translate task (a second decode of the audio)."""
        if request.file is None:
            raise TranscriptionRejected("the built-in engine translates uploaded bytes only", status=400)
        audio = await load_audio(
            request.file, max_bytes=self.settings.max_audio_bytes, max_seconds=self.settings.max_audio_seconds
        )

        def work() -> str:
            model = self.load()
            segments, _ = model.transcribe(
                audio.samples,
                task="translate",
                language=source_language if model.model.is_multilingual else "en",
                beam_size=self.settings.beam_size,
                temperature=_FALLBACK_TEMPERATURES,
                vad_filter=True,
            )
            return "".join(s.text for s in segments).strip()

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

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
        split = self._split(samples)
        hotwords = ", ".join(request.context_bias) or None
        diarizer = self.speaker_model() if request.diarize else None
        # Known voices are checked first: a bad reference is refused before minutes of decoding.
        prints = self._reference_prints(request) if diarizer is not None else {}
        hold_segments = diarizer is not None
        segments: list[Segment] = []
        pieces: list[str] = []

        def publish(piece: _Piece) -> None:
            if not piece.text.strip():
                return
            if stop.is_set():
                raise _Stopped
            # The two passes pad their windows differently: keep segments from overlapping.
            start = max(piece.start, segments[-1].end) if segments else piece.start
            segment = Segment(text=piece.text.strip(), start=round(start, 2), end=round(max(piece.end, start), 2))
            segments.append(segment)
            pieces.append(piece.text)
            emit(TextDeltaEvent(text=piece.text))
            if not hold_segments:
                emit(SegmentEvent(text=segment.text, start=segment.start, end=segment.end))

        language = request.language if model.model.is_multilingual else "en"
        # A consumer that reads the final from the done event gets a decode of the whole note, whatever its
        # length: decoding the rest apart from the first window lost words at the cut (bench/accuracy.py).
        whole_final = request.final_from_done
        if whole_final and len(samples) <= WHOLE_FINAL_MAX_S * SAMPLE_RATE:
            hold_segments = True  # the preview's segments are not the final ones: only its text goes out
        first, language, decoded_to = self._first_window(
            model, samples, split, language, hotwords, request.temperature, request.languages
        )
        emit(LanguageEvent(audio_language=language))
        for piece in first:
            publish(piece)

        if whole_final:
            # Fast preview, accurate final: the first window was cut at a pause to show text quickly, which
            # costs the rest its context (and short non-English notes their language). The final is a
            # decode of the whole note, as plain faster-whisper decodes it; the preview goes on from it.
            self._whole_final(model, audio, request, hotwords, diarizer, "".join(pieces), emit, stop, prints,
                              preview_end=segments[-1].end if segments else 0.0)
            return

        # Greedy decoding sometimes ends a window early (after its first sentence): when speech was left
        # undecoded, the rest starts where the text ended, not at the planned cut.
        rest_start = split.cut
        undecoded = _speech_between(split.regions, decoded_to + SAMPLE_RATE // 4, split.cut)
        if decoded_to < split.cut - SAMPLE_RATE and undecoded:
            log.debug("first window decoded to %.2f s of %.2f s: resuming there", decoded_to / SAMPLE_RATE,
                      split.cut / SAMPLE_RATE)
            rest_start = decoded_to
        if split.scanned < len(samples) or _speech_between(split.regions, rest_start, len(samples)):
            offset = rest_start / SAMPLE_RATE
            options = dict(
                language=language,
                beam_size=self.settings.beam_size,
                temperature=request.temperature if request.temperature is not None else _FALLBACK_TEMPERATURES,
                hotwords=hotwords,
            )
            if len(samples) - rest_start >= BATCH_MIN_S * SAMPLE_RATE:
                # Long notes: decode several 30 s windows per encoder call (measured 13.6x -> 20.8x real
                # time on 2 cores, 120 s note); text then arrives in bursts of `BATCH_SIZE` windows.
                rest, _ = self._batched(model).transcribe(
                    samples[rest_start:], batch_size=BATCH_SIZE, without_timestamps=False, **options
                )
            else:
                rest, _ = model.transcribe(samples[rest_start:], vad_filter=True, **options)
            self._publish_all((_Piece(s.text, s.start + offset, s.end + offset) for s in rest), publish)

        if not segments:
            raise NoSpeech()
        if diarizer is not None:
            segments = self._named(samples, diarizer(samples, segments), prints)
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

    def _preview(self, head: np.ndarray, request: TranscriptionRequest, emit: Callable[[object], None]) -> list[_Piece]:
        """The first window of a note whose rest is still downloading: language, then its text (and segments,
        which the final continues from). Nothing when the head holds no speech: the final decides then."""
        model = self.load()
        try:
            split = self._split(head, partial=True)
        except NoSpeech:
            return []
        language = request.language if model.model.is_multilingual else "en"
        hotwords = ", ".join(request.context_bias) or None
        pieces, language, _ = self._first_window(
            model, head, split, language, hotwords, request.temperature, request.languages
        )
        emit(LanguageEvent(audio_language=language))
        shown = [p for p in pieces if p.text.strip()]
        end = 0.0
        for piece in shown:
            start = max(piece.start, end)
            end = max(piece.end, start)
            emit(TextDeltaEvent(text=piece.text))
            if not request.diarize:
                emit(SegmentEvent(text=piece.text.strip(), start=round(start, 2), end=round(end, 2)))
        return shown

    def _whole_final(
        self,
        model: WhisperModel,
        audio: DecodedAudio,
        request: TranscriptionRequest,
        hotwords: str | None,
        diarizer: Diarizer | None,
        preview: str,
        emit: Callable[[object], None],
        stop: threading.Event,
        prints: dict[str, np.ndarray],
        preview_end: float = 0.0,
    ) -> None:
        language = request.language if model.model.is_multilingual else "en"
        if language is None and request.languages:
            # Detected on the same first 30 s transcribe() would use, but only among the candidates.
            _, _, probs = model.detect_language(audio=audio.samples)
            language, _ = likeliest(probs, request.languages)
        options = dict(
            language=language,
            beam_size=self.settings.beam_size,
            temperature=request.temperature if request.temperature is not None else _FALLBACK_TEMPERATURES,
            hotwords=hotwords,
        )
        # Sequential at every length, not BatchedInferencePipeline: on the bench's minute-long tuning notes
        # the batched decode dropped whole sentences at its chunk edges (WER 0 -> 0.043, 0.109 -> 0.160).
        whole, info = model.transcribe(audio.samples, vad_filter=True, **options)
        one_window = len(audio.samples) <= WHOLE_FINAL_MAX_S * SAMPLE_RATE
        decoded = []
        for s in whole:  # lazy: each window is decoded when asked for
            if stop.is_set():
                raise _Stopped
            if not s.text.strip():
                continue
            decoded.append(s)
            if one_window:
                continue
            # Past the first sentence the preview (text, and segments: a live view's progress) goes on
            # with the final's own, window by window; 0.2 s of slack, as the two decodes place the same
            # words a little apart. Speaker labels come at the end.
            if s.start >= preview_end - 0.2:
                emit(TextDeltaEvent(text=s.text))
                if diarizer is None:
                    emit(SegmentEvent(text=s.text.strip(), start=round(s.start, 2), end=round(s.end, 2)))
        if not decoded:
            raise NoSpeech()
        text = "".join(s.text for s in decoded)
        # Deltas add up to the final text where the preview was its beginning; otherwise the done event
        # (which every client reads for the final) carries the corrected text.
        if one_window and text.startswith(preview) and len(text) > len(preview):
            emit(TextDeltaEvent(text=text[len(preview):]))
        segments = [Segment(text=s.text.strip(), start=round(s.start, 2), end=round(s.end, 2)) for s in decoded]
        if diarizer is not None:
            segments = self._named(audio.samples, diarizer(audio.samples, segments), prints)
        if one_window or diarizer is not None:
            for seg in segments:
                emit(SegmentEvent(text=seg.text, start=seg.start, end=seg.end, speaker_id=seg.speaker_id))
        emit(
            DoneEvent(
                model=self.model_id,
                text=text.strip(),
                language=info.language,
                segments=segments,
                usage=Usage(prompt_audio_seconds=round(audio.duration, 2)),
            )
        )

    def _reference_prints(self, request: TranscriptionRequest) -> dict[str, np.ndarray]:
        if self.voices is None:
            return {}
        prints = {name: np.asarray(vector, dtype=np.float32) for name, vector in request.speaker_prints.items()}
        if request.speaker_references:
            from bot.engine.speaker_names import reference_prints

            prints.update(reference_prints(self.voices, request.speaker_references))
        return prints

    def _named(self, samples: np.ndarray, segments: list[Segment], prints: dict[str, np.ndarray]) -> list[Segment]:
        if not prints or self.voices is None:
            return segments
        from bot.engine.speaker_names import name_speakers

        return name_speakers(self.voices, samples, segments, prints)

    @staticmethod
    def _publish_all(pieces: Iterable[_Piece], publish: Callable[[_Piece], None]) -> None:
        for piece in pieces:  # lazy: each 30 s window is decoded only when asked for
            publish(piece)

    def _split(self, samples: np.ndarray, *, partial: bool = False) -> _Split:
        """First window = speech up to the first pause after `first_min_s`; the rest, unless tiny.

        `partial`: `samples` is the head of a note still downloading, so more audio follows its end."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        plan = self.plan
        # On a long note, VAD over the whole file would delay the first partial (about 0.3 s per 5 min
        # here): the head is enough to place the first cut, and the rest pass runs VAD of its own.
        head = len(samples) if len(samples) <= plan.vad_head_s * 1.5 * SAMPLE_RATE else int(plan.vad_head_s * SAMPLE_RATE)
        vad = VadOptions(
            min_silence_duration_ms=int(plan.min_silence_s * 1000),
            speech_pad_ms=0,
            max_speech_duration_s=plan.max_region_s,
        )
        regions = get_speech_timestamps(samples[:head], vad)
        if not regions and head < len(samples):
            # A long silent start: look at the whole note after all.
            head = len(samples)
            regions = get_speech_timestamps(samples, vad)
        if not regions:
            raise NoSpeech()
        start = max(0, regions[0]["start"] - int(plan.lead_in_s * SAMPLE_RATE))
        min_end = regions[0]["start"] + int(plan.first_min_s * SAMPLE_RATE)
        max_len = int(plan.first_max_s * SAMPLE_RATE)
        k = next((i for i, r in enumerate(regions) if r["end"] >= min_end), len(regions) - 1)
        if regions[k]["end"] - start > max_len:
            k = 0
        tail = regions[k + 1 :]
        if not tail and (head < len(samples) or partial):
            # The head is one long stretch of speech: cut after its first region, the rest follows.
            return _Split(start, regions[k]["end"], regions, head)
        tail_speech = sum(r["end"] - r["start"] for r in tail)
        if head == len(samples) and not partial and (
            not tail or (tail_speech < plan.tail_min_speech_s * SAMPLE_RATE and regions[-1]["end"] - start <= max_len)
        ):
            end = min(len(samples), regions[-1]["end"] + int(plan.lead_in_s * SAMPLE_RATE))
            return _Split(start, end, regions, head)
        # Cut in the middle of the pause, so neither side clips a word.
        return _Split(start, (regions[k]["end"] + tail[0]["start"]) // 2, regions, head)

    def _first_window(
        self,
        model: WhisperModel,
        samples: np.ndarray,
        split: _Split,
        language: str | None,
        hotwords: str | None,
        temperature: float | None,
        candidates: Iterable[str] = (),
    ) -> tuple[list[_Piece], str, int]:
        """Greedy decode of the first window; also the language (detected on the same encoder pass if
        unknown) and the sample where the decoded text ends.

        faster-whisper pads every window to 30 s; CTranslate2 takes a shorter input, which cuts the
        encoder's time by half or more. With less than ~5 s of padding the decoder loops, hence the margin.
        """
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        plan = self.plan
        audio = samples[split.start : split.cut]
        features = model.feature_extractor(audio)
        frames = max(int(plan.first_pad_min_s * 100), features.shape[-1] + int(plan.first_pad_margin_s * 100))
        frames = min(frames, 3000)  # 30 s: what the model was trained on
        padded = np.zeros((1, features.shape[0], frames), dtype=np.float32)
        used = min(frames, features.shape[-1])
        padded[0, :, :used] = features[:, :used]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(padded), to_cpu=False)

        if language is None:
            probs = [(token[2:-2], p) for token, p in model.model.detect_language(encoded)[0]]
            language, probability = likeliest(probs, candidates)
            if probability < plan.detect_min_probability:
                # Unsure on one sentence: ask again with as much speech as one window holds.
                end = min(len(samples), split.start + int(plan.detect_s * SAMPLE_RATE))
                _, _, probs = model.detect_language(audio=samples[split.start : end])
                language, probability = likeliest(probs, candidates)
            log.debug("detected language %s (p=%.2f)", language, probability)

        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=False, hotwords=hotwords)
        sampling = {"sampling_topk": 0, "sampling_temperature": temperature} if temperature else {}
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=min(448, len(prompt) + 32 + int(12 * len(audio) / SAMPLE_RATE)),
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            **sampling,
        )[0]
        offset = split.start / SAMPLE_RATE
        pieces, last_time = _timed_pieces(result.sequences_ids[0], tokenizer, offset, split.cut / SAMPLE_RATE)
        text = "".join(p.text for p in pieces)
        if text.strip() and get_compression_ratio(text) <= 2.4:
            decoded_to = split.cut if last_time is None else int(last_time * SAMPLE_RATE)
            return pieces, language, decoded_to
        # A repetition loop (or nothing): decode this window the standard way, with temperature fallback.
        fallback, _ = model.transcribe(
            audio,
            language=language,
            beam_size=1,
            temperature=temperature if temperature is not None else _FALLBACK_TEMPERATURES,
            hotwords=hotwords,
            vad_filter=False,
        )
        return [_Piece(s.text, s.start + offset, s.end + offset) for s in fallback], language, split.cut


def likeliest(probs: list[tuple[str, float]], candidates: Iterable[str] = ()) -> tuple[str, float]:
    """The most probable language of Whisper's `(code, probability)` list, best first; with
    candidates, the most probable of them, its probability renormalised over the candidates."""
    wanted = set(candidates)
    if not wanted:
        return probs[0]
    among = [(code, p) for code, p in probs if code in wanted]
    if not among:  # an English-only model knows no other language
        return probs[0]
    total = sum(p for _, p in among) or 1.0
    code, p = max(among, key=lambda item: item[1])
    return code, p / total


_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
_TIME_PRECISION = 0.02


def _speech_between(regions: list[dict[str, int]], start: int, end: int, min_s: float = 0.3) -> bool:
    """True when VAD heard at least `min_s` of speech between two sample positions."""
    heard = sum(max(0, min(r["end"], end) - max(r["start"], start)) for r in regions)
    return heard >= min_s * SAMPLE_RATE


def _timed_pieces(
    tokens: list[int], tokenizer: Tokenizer, offset: float, window_end: float
) -> tuple[list[_Piece], float | None]:
    """Split Whisper's output at its timestamp tokens; also the time of the last timestamp (None if the
    text runs on without one: then it covers the whole window)."""
    begin = tokenizer.timestamp_begin
    eot = tokenizer.eot
    pieces: list[_Piece] = []
    text_tokens: list[int] = []
    opened: float | None = None
    last: float | None = None
    for token in tokens:
        if token >= begin:
            time = offset + (token - begin) * _TIME_PRECISION
            if text_tokens:
                pieces.append(_Piece(tokenizer.decode(text_tokens), opened if opened is not None else time, time))
                text_tokens = []
                opened = None
            else:
                opened = time
            last = time
        elif token < eot:
            text_tokens.append(token)
    if text_tokens:
        start = opened if opened is not None else (last if last is not None else offset)
        pieces.append(_Piece(tokenizer.decode(text_tokens), start, window_end))
        last = None
    return pieces, last
