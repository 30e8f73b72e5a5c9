"""Decompression bombs (issue 14): a few hundred KB of FLAC that decode to hours of silence or minutes of
192 kHz 7.1 are refused at once, with no more PCM than the cap allows and no decoding after the caller
has gone; a silent recording under the cap is answered "no speech" without the engine.

The bombs are written here by a tiny FLAC writer (CONSTANT subframes: one sample value per channel per
block), so 3 hours take 0.1 s to make and the header can tell the truth, lie, or say nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
from collections.abc import Iterator

import av
import numpy as np
import pytest

from bot.config import Settings
from bot.engine import audio as audio_module
from bot.engine.audio import SAMPLE_RATE, DecodedAudio, decode_audio_bytes, load_audio
from bot.errors import AudioTooLong, NoSpeech, UnsupportedAudio
from bot.models import TranscriptionRequest
from tests.fixtures.engine import load_speech_clip
from tests.fixtures.flac import constant_flac

BIG = 1 << 30
DEFAULT_CAP = Settings(_env_file=None).max_audio_seconds  # type: ignore[call-arg]
HOURS_3 = 3 * 3600.0
SMALL_CAP = 600.0  # for bombs that must be decoded up to the cap: 10 min decodes in ~0.2 s


@pytest.fixture(scope="module")
def silent_3h() -> bytes:
    return constant_flac(HOURS_3)  # 0.55 MB


# --- instruments -----------------------------------------------------------------------------------


class PacketCounter:
    """Wraps `av.open` so every packet the demuxer hands to the decoder is counted."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> PacketCounter:
        real_open = av.open
        counter = self

        class Counted:
            def __init__(self, inner: av.container.InputContainer) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> object:
                return getattr(self._inner, name)

            def __enter__(self) -> Counted:
                self._inner.__enter__()
                return self

            def __exit__(self, *exc: object) -> object:
                return self._inner.__exit__(*exc)

            def demux(self, *args: object, **kwargs: object) -> Iterator[av.Packet]:
                for packet in self._inner.demux(*args, **kwargs):
                    counter.count += 1
                    yield packet

        monkeypatch.setattr(av, "open", lambda *a, **k: Counted(real_open(*a, **k)))
        return self


@pytest.fixture
def packets(monkeypatch: pytest.MonkeyPatch) -> PacketCounter:
    return PacketCounter().install(monkeypatch)


def measured(data: bytes, max_seconds: float) -> tuple[BaseException | DecodedAudio, float, int]:
    """(the outcome, seconds taken, peak bytes allocated through tracemalloc, numpy's PCM included)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome: BaseException | DecodedAudio = decode_audio_bytes(data, max_bytes=BIG, max_seconds=max_seconds)
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        outcome = exc
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, elapsed, peak


def pcm_bytes(seconds: float) -> int:
    return int(seconds * SAMPLE_RATE) * 4


# --- the duration cap ------------------------------------------------------------------------------


def test_default_cap_is_two_hours() -> None:
    assert DEFAULT_CAP == 7200  # voice notes and meetings; 3 h of PCM alone is 691 MB per engine slot


@pytest.mark.parametrize("cap", [DEFAULT_CAP, HOURS_3], ids=["default-cap", "cap-equal-to-its-length"])
def test_three_hour_silent_flac_is_refused_before_decoding(silent_3h, packets, cap) -> None:
    """The issue's bomb: 3 h declared. Even with a cap of exactly 3 h (the old default), not a sample decodes."""
    outcome, elapsed, peak = measured(silent_3h, cap)
    assert isinstance(outcome, AudioTooLong), outcome
    assert "10800 s" in str(outcome)
    assert packets.count == 0  # refused from the header
    assert elapsed < 0.5 and peak < 5_000_000, (elapsed, peak)


@pytest.mark.parametrize("real", [SMALL_CAP, HOURS_3], ids=["exactly-the-cap", "3h"])
@pytest.mark.parametrize("claim", [0.0, 10.0], ids=["no-length", "claims-10s"])
def test_header_without_or_with_false_length_is_refused_when_decoding_reaches_the_cap(packets, claim, real) -> None:
    """No usable declared length: the running decoded length refuses it at the packet that reaches the cap,
    and no more PCM than the cap was ever allocated (the buffer grows, but not past the cap)."""
    data = constant_flac(real, declared=claim, value=1000)
    outcome, elapsed, peak = measured(data, SMALL_CAP)
    assert isinstance(outcome, AudioTooLong), outcome
    assert packets.count <= SMALL_CAP * SAMPLE_RATE / 4096 + 2  # stopped at the cap, not at the end
    assert peak <= pcm_bytes(SMALL_CAP) + 1_000_000, peak
    assert elapsed < 5, elapsed


def test_under_cap_recording_holds_its_pcm_once() -> None:
    """One buffer sized from the header, trimmed in place: no list of chunks joined into a second copy."""
    outcome, _, peak = measured(constant_flac(600, value=1000), DEFAULT_CAP)
    assert isinstance(outcome, DecodedAudio), outcome
    assert outcome.duration == pytest.approx(600)
    assert outcome.samples.nbytes == pcm_bytes(600)
    assert peak < 1.1 * outcome.samples.nbytes, peak / outcome.samples.nbytes


# --- decoding work ---------------------------------------------------------------------------------


def test_ten_minutes_of_192khz_7_1_is_refused_before_decoding(packets) -> None:
    """0.24 MB that cost seconds of CPU to decode: 921.6 M input samples, past the budget of 2 h of 48 kHz stereo."""
    data = constant_flac(600, rate=192_000, channels=8, block=16384)
    assert len(data) < 300_000
    outcome, elapsed, _ = measured(data, DEFAULT_CAP)
    assert isinstance(outcome, AudioTooLong), outcome
    assert "192 kHz with 8 channels" in str(outcome) and "450 s" in str(outcome)
    assert packets.count == 0 and elapsed < 0.5, (packets.count, elapsed)


def test_dense_stream_without_length_is_refused_by_the_running_count(packets) -> None:
    """No declared length: the count of input samples stops it once it crosses the budget (600 s cap x 96k/s
    = 37.5 s of 192 kHz 7.1), though its 9 minutes are under the cap."""
    data = constant_flac(540, rate=192_000, channels=8, block=16384, declared=0)
    outcome, elapsed, _ = measured(data, SMALL_CAP)
    assert isinstance(outcome, AudioTooLong), outcome
    assert "too much audio data" in str(outcome)
    assert packets.count <= 37.5 * 192_000 / 16384 + 2, packets.count
    assert elapsed < 2, elapsed


def test_tiny_packets_are_refused_by_their_rate(packets) -> None:
    """16-sample FLAC blocks: 1000 packets a second of audio, each costing Python time; refused after the grace."""
    data = constant_flac(60, block=16, value=1000)
    outcome, elapsed, _ = measured(data, DEFAULT_CAP)
    assert isinstance(outcome, UnsupportedAudio), outcome
    assert "tiny packets" in str(outcome)
    assert packets.count <= audio_module._PACKET_GRACE + 1 and elapsed < 3, (packets.count, elapsed)


@pytest.mark.parametrize("claim", [None, 0.0], ids=["declared", "no-length"])
def test_48khz_stereo_just_under_the_cap_still_decodes(claim) -> None:
    """The budget is the work of 48 kHz stereo for the whole cap: such a recording is never refused for it."""
    data = constant_flac(59.5, rate=48_000, channels=2, value=1000, declared=claim)
    audio = decode_audio_bytes(data, max_bytes=BIG, max_seconds=60)
    assert audio.duration == pytest.approx(59.5, abs=0.05)


# --- silence ---------------------------------------------------------------------------------------


def test_peak_is_tracked_while_decoding() -> None:
    data, _ = load_speech_clip("arctic_a0009")
    audio = decode_audio_bytes(data, max_bytes=BIG, max_seconds=60)
    assert audio.peak == pytest.approx(float(np.abs(audio.samples).max()))
    assert not audio.silent
    # Speech at -60 dBFS peak is still heard by VAD: not silent. -74 dBFS is.
    quiet = audio.samples / audio.peak
    assert not DecodedAudio(samples=quiet * 1e-3, duration=audio.duration).silent
    assert DecodedAudio(samples=quiet * 2e-4, duration=audio.duration).silent
    assert decode_audio_bytes(constant_flac(5), max_bytes=BIG, max_seconds=60).silent


@pytest.mark.slow
async def test_silent_half_hour_is_answered_no_speech_without_the_engine(local_engine, monkeypatch) -> None:
    """30 min of silence, under the cap: NoSpeech right after decoding; neither VAD nor whisper runs."""
    import faster_whisper.vad

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine ran on a silent recording")

    monkeypatch.setattr(faster_whisper.vad, "get_speech_timestamps", must_not_run)
    monkeypatch.setattr(local_engine, "_transcribe", must_not_run)
    data = constant_flac(1800)
    start = time.perf_counter()
    decode_audio_bytes(data, max_bytes=BIG, max_seconds=DEFAULT_CAP)
    decoding = time.perf_counter() - start

    start = time.perf_counter()
    with pytest.raises(NoSpeech, match="silent"):
        await local_engine.complete(TranscriptionRequest(file=data, filename="quiet.flac"))
    elapsed = time.perf_counter() - start
    assert elapsed < 2 * decoding + 0.5, (elapsed, decoding)


# --- cancellation ----------------------------------------------------------------------------------


async def test_cancelled_load_stops_the_decoding_thread(packets, monkeypatch) -> None:
    """The client went away: the thread stops at its next packet instead of decoding the hour to the end."""
    real = audio_module.decode_audio_bytes
    finished = threading.Event()

    def tracked(*args: object, **kwargs: object) -> DecodedAudio:
        try:
            return real(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(audio_module, "decode_audio_bytes", tracked)
    data = constant_flac(3600, value=1000)  # 14,063 packets, ~1 s to decode
    task = asyncio.create_task(load_audio(data, max_bytes=BIG, max_seconds=DEFAULT_CAP))
    deadline = time.perf_counter() + 10
    while packets.count < 50 and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    assert packets.count >= 50 and not task.done()
    task.cancel()
    at_cancel = packets.count
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, 10)
    assert packets.count - at_cancel <= 2, (at_cancel, packets.count)
