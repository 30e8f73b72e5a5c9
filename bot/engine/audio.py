"""Decode and validate audio bytes into 16 kHz mono float32 samples, with one typed error per failure.

PyAV bundles FFmpeg, so no system ffmpeg is needed. Limits are checked as early as possible: size
before opening, the container's declared duration before decoding, the decoded length while decoding.
"""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from dataclasses import dataclass

import av
import numpy as np

from bot.errors import AudioTooLarge, AudioTooLong, CorruptAudio, EmptyAudio, UnsupportedAudio

SAMPLE_RATE = 16_000
# Magic numbers of audio containers: a file that starts like one but will not open is damaged, not foreign.
_AUDIO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"OggS"),
    (0, b"RIFF"),
    (0, b"fLaC"),
    (0, b"ID3"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (4, b"ftyp"),  # MP4 / M4A
    (0, b"#!AMR"),
    (0, b"FORM"),  # AIFF
    (0, b"\xff\xf1"),  # AAC ADTS
    (0, b"\xff\xfb"),  # MP3 frame sync
    (0, b"\xff\xf3"),
)


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at 16 kHz in [-1, 1] and their length in seconds."""

    samples: np.ndarray
    duration: float
    sample_rate: int = SAMPLE_RATE


def human_size(n: int) -> str:
    """Decimal units, as people and platforms count file sizes: 1.5 MB, 977 KB, 12 bytes."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _looks_like_audio(data: bytes) -> bool:
    return any(data[off : off + len(magic)] == magic for off, magic in _AUDIO_MAGIC)


def _ogg_truncated(data: bytes) -> bool:
    """True when the last Ogg page is cut short (FFmpeg silently drops it, so check the page chain)."""
    pos, end = 0, len(data)
    while pos < end:
        if data[pos : pos + 4] != b"OggS":
            return False  # not a clean page chain: leave the verdict to the decoder
        if pos + 27 > end:
            return True
        nseg = data[pos + 26]
        if pos + 27 + nseg > end:
            return True
        body = sum(data[pos + 27 : pos + 27 + nseg])
        pos += 27 + nseg + body
        if pos > end:
            return True
    return False


def _wav_truncated(data: bytes) -> bool:
    """True when a WAV's `data` chunk claims more bytes than the file holds (streaming writers use 0/-1)."""
    if data[8:12] != b"WAVE":
        return False
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"data":
            return size not in (0, 0xFFFFFFFF) and pos + 8 + size > len(data)
        pos += 8 + size + (size & 1)
    return False


def _check_complete(data: bytes) -> None:
    if (data.startswith(b"OggS") and _ogg_truncated(data)) or (data.startswith(b"RIFF") and _wav_truncated(data)):
        raise CorruptAudio("the audio file is truncated (it ends in the middle of the data)")


def decode_audio_bytes(data: bytes, *, max_bytes: int, max_seconds: float) -> DecodedAudio:
    """Decode `data` (any container PyAV reads) to 16 kHz mono; raise a typed AudioError when unusable.

    Blocking: call it from a worker thread (see `load_audio`).
    """
    if not data:
        raise EmptyAudio()
    if len(data) > max_bytes:
        raise AudioTooLarge(f"the file is too large ({human_size(len(data))}; the limit is {human_size(max_bytes)})")
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if _looks_like_audio(data):
            raise CorruptAudio(f"the audio file is damaged or truncated ({exc.strerror or exc})") from exc
        raise UnsupportedAudio("this file is not audio I can read") from exc
    with container:
        if not container.streams.audio:
            # An image also opens as a (one-frame) "video": only real video containers get the track message.
            if container.streams.video and not container.format.name.endswith("_pipe"):
                raise UnsupportedAudio("this video has no audio track")
            raise UnsupportedAudio("this file is not audio I can read")
        stream = container.streams.audio[0]
        declared = _declared_duration(container, stream)
        if declared is not None and declared > max_seconds:
            raise AudioTooLong(f"the recording is too long ({declared:.0f} s; the limit is {max_seconds:.0f} s)")
        _check_complete(data)
        samples = _decode_stream(container, stream, max_seconds)
    if samples.size == 0:
        raise EmptyAudio("the recording has no sound in it (0 seconds)")
    return DecodedAudio(samples=samples, duration=samples.size / SAMPLE_RATE)


def _declared_duration(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decode_stream(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                   max_seconds: float) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    limit = int(max_seconds * SAMPLE_RATE)
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
            if total > limit:
                raise AudioTooLong(f"the recording is too long (over the {max_seconds:.0f} s limit)")
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise CorruptAudio(f"the audio file is damaged ({exc.strerror or exc})") from exc
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


async def load_audio(data: bytes, *, max_bytes: int, max_seconds: float) -> DecodedAudio:
    """`decode_audio_bytes` off the event loop."""
    return await asyncio.to_thread(decode_audio_bytes, data, max_bytes=max_bytes, max_seconds=max_seconds)


def encode_wav(samples: np.ndarray) -> bytes:
    """16 kHz mono samples in [-1, 1] as 16-bit PCM WAV: lossless bytes that `decode_audio_bytes` reads back."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()
