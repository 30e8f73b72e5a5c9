"""Audio decoding and validation: every way a file can be unusable maps to one typed error."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from bot.engine.audio import SAMPLE_RATE, DecodedAudio, decode_audio_bytes, load_audio
from bot.errors import AudioTooLarge, AudioTooLong, CorruptAudio, EmptyAudio, UnsupportedAudio
from tests.fixtures.engine import load_speech_clip

BIG = 1 << 30


def decode(data: bytes, *, max_bytes: int = BIG, max_seconds: float = 3600.0) -> DecodedAudio:
    return decode_audio_bytes(data, max_bytes=max_bytes, max_seconds=max_seconds)


def tone(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def encode(samples: np.ndarray, fmt: str, codec: str, options: dict[str, str] | None = None) -> bytes:
    """Encode mono 16 kHz samples with PyAV (so the tests need no system ffmpeg)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else SAMPLE_RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=stream.codec_context.sample_rate
        )
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def video_without_audio(tmp_path: Path) -> bytes:
    """A short silent-film MP4: with ffmpeg when installed, else with PyAV."""
    path = tmp_path / "clip.mp4"
    if shutil.which("ffmpeg"):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=10",
             "-an", "-c:v", "mpeg4", str(path)],
            check=True,
        )
        return path.read_bytes()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            img = np.full((64, 64, 3), i * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def test_voice_note_decodes_to_16k_mono_float() -> None:
    data, _ = load_speech_clip("espeak_en")
    audio = decode(data)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert 10.0 < audio.duration < 12.0
    assert audio.duration == pytest.approx(audio.samples.size / SAMPLE_RATE)
    assert 0.05 < float(np.abs(audio.samples).max()) <= 1.0


@pytest.mark.parametrize(
    ("fmt", "codec", "options"),
    [
        ("wav", "pcm_s16le", None),
        ("flac", "flac", None),
        ("mp3", "libmp3lame", None),
        ("ipod", "aac", None),  # .m4a
        ("webm", "libopus", None),
        ("webm", "libopus", {"live": "1"}),  # no declared duration, like a browser recording
    ],
)
def test_common_containers_decode(fmt: str, codec: str, options: dict[str, str] | None) -> None:
    audio = decode(encode(tone(3.0), fmt, codec, options))
    assert audio.duration == pytest.approx(3.0, abs=0.1)


def test_empty_file() -> None:
    with pytest.raises(EmptyAudio):
        decode(b"")


def test_random_bytes_named_ogg_are_not_audio() -> None:
    noise = random.Random(7).randbytes(20_000)  # what a user uploaded as "note.ogg"
    with pytest.raises(UnsupportedAudio):
        decode(noise)


def test_text_file_is_not_audio() -> None:
    with pytest.raises(UnsupportedAudio):
        decode(b"Meeting notes\n- ship the release\n- book the venue\n" * 20)


def test_video_without_audio_track(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedAudio, match="no audio track"):
        decode(video_without_audio(tmp_path))


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_ogg(keep: float) -> None:
    data, _ = load_speech_clip("espeak_en")
    with pytest.raises(CorruptAudio):
        decode(data[: int(len(data) * keep)])


def test_ogg_cut_inside_its_headers() -> None:
    data, _ = load_speech_clip("espeak_en")
    with pytest.raises(CorruptAudio):
        decode(data[:120])


def test_ogg_magic_followed_by_garbage() -> None:
    with pytest.raises(CorruptAudio):
        decode(b"OggS" + random.Random(3).randbytes(5_000))


def test_truncated_wav() -> None:
    wav = encode(tone(3.0), "wav", "pcm_s16le")
    with pytest.raises(CorruptAudio):
        decode(wav[: len(wav) // 2])


def test_too_large_is_refused_before_decoding() -> None:
    data, _ = load_speech_clip("espeak_en")
    with pytest.raises(AudioTooLarge, match="KB"):
        decode(data, max_bytes=10_000)


def test_too_long_by_declared_duration() -> None:
    data, _ = load_speech_clip("espeak_en")
    with pytest.raises(AudioTooLong, match="11 s"):
        decode(data, max_seconds=5)


def test_too_long_without_declared_duration_stops_while_decoding() -> None:
    live = encode(tone(6.0), "webm", "libopus", {"live": "1"})
    assert av.open(io.BytesIO(live)).duration is None
    with pytest.raises(AudioTooLong):
        decode(live, max_seconds=2)


async def test_load_audio_runs_off_the_loop() -> None:
    data, _ = load_speech_clip("arctic_a0009")
    audio = await load_audio(data, max_bytes=BIG, max_seconds=60)
    assert audio.duration == pytest.approx(3.1, abs=0.1)
