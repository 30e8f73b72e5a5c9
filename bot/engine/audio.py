"""Decode and validate audio bytes into 16 kHz mono float32 samples, with one typed error per failure.

PyAV bundles FFmpeg, so no system ffmpeg is needed. Limits are checked as early as possible: size
before opening, the container's declared duration and decoding work before decoding, then the decoded
length, the work and the packet rate after every packet. A few KB of FLAC can hold hours of silence or
minutes of 192 kHz 7.1 (decompression bombs): decoding is a stream into one buffer that never grows past
the duration cap, downmixed and resampled frame by frame, and it stops at the first packet over a limit
or once its caller has gone (`load_audio` cancelled).
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np

from bot.errors import AudioTooLarge, AudioTooLong, CorruptAudio, EmptyAudio, UnsupportedAudio

SAMPLE_RATE = 16_000
#: Decoding work allowed per second of the duration cap, in input samples (sample rate x channels): 48 kHz
#: stereo, the most that phones, browsers and meeting recorders write. Any such recording under the cap
#: decodes; denser input gets proportionally less time (96 kHz stereo half the cap, 192 kHz 7.1 a sixteenth).
INPUT_RATE_BUDGET = 48_000 * 2
#: Packets per second of audio beyond which a stream is cut absurdly fine: each packet costs ~15 us of
#: Python whatever it holds, and speech codecs use at least 2.5 ms frames (Opus: 400/s).
MAX_PACKET_RATE = 500
_PACKET_GRACE = 5_000  # packets decoded before their rate is judged (headers and short files never are)
#: A recording whose loudest sample (after the downmix) is below this is silent: -70 dBFS. Silero VAD
#: stops hearing speech between -63 and -60 dBFS peak (measured on the test clips), so nothing it could
#: find is skipped; digital silence and 16-bit dither (about -90 dBFS) are well below.
SILENCE_PEAK = 10 ** (-70 / 20)
_UNKNOWN_LENGTH_S = 30.0  # first buffer for a stream of unknown length; it grows 1.5x, never past the cap
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
    """Mono float32 samples at 16 kHz in [-1, 1], their length in seconds and their peak |sample|."""

    samples: np.ndarray
    duration: float
    sample_rate: int = SAMPLE_RATE
    peak: float = field(default=-1.0)  # tracked while decoding; computed from `samples` when not given

    def __post_init__(self) -> None:
        if self.peak < 0:
            peak = float(np.max(np.abs(self.samples))) if self.samples.size else 0.0
            object.__setattr__(self, "peak", peak)

    @property
    def silent(self) -> bool:
        """No sample reaches `SILENCE_PEAK`: there is nothing to transcribe."""
        return self.peak < SILENCE_PEAK


class DecodeCancelled(Exception):
    """The caller of `decode_audio_bytes` set its `cancel` event (it went away): decoding stopped."""


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


def check_complete(data: bytes) -> None:
    if (data.startswith(b"OggS") and _ogg_truncated(data)) or (data.startswith(b"RIFF") and _wav_truncated(data)):
        raise CorruptAudio("the audio file is truncated (it ends in the middle of the data)")


def decode_audio_bytes(
    data: bytes, *, max_bytes: int, max_seconds: float, cancel: threading.Event | None = None
) -> DecodedAudio:
    """Decode `data` (any container PyAV reads) to 16 kHz mono; raise a typed AudioError when unusable.

    A recording must be shorter than `max_seconds` (one as long is refused), and its decoding work is
    bounded by `max_seconds * INPUT_RATE_BUDGET` input samples. Blocking: call it from a worker thread (see
    `load_audio`); setting `cancel` makes it raise `DecodeCancelled` at the next packet.
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
        declared = check_declared(container, stream, max_seconds)
        check_complete(data)
        samples, peak = decode_stream(container, stream, max_seconds, declared, cancel)
    if samples.size == 0:
        raise EmptyAudio("the recording has no sound in it (0 seconds)")
    return DecodedAudio(samples=samples, duration=samples.size / SAMPLE_RATE, peak=peak)


def declared_duration(data: bytes) -> float | None:
    """The length the recording's container declares, read without decoding: what a progress bar needs
    before the first word. None when it declares none, or is no audio PyAV reads (decoding says why)."""
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError:
        return None
    with container:
        if not container.streams.audio:
            return None
        return _declared_duration(container, container.streams.audio[0])


def check_declared(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, max_seconds: float
) -> float | None:
    """The declared duration, once its length and its decoding work are known to be under the caps."""
    declared = _declared_duration(container, stream)
    if declared is not None:
        if declared >= max_seconds:
            raise AudioTooLong(f"the recording is too long ({declared:.0f} s; the limit is {max_seconds:.0f} s)")
        rate, channels = stream.codec_context.sample_rate or 0, stream.codec_context.channels or 0
        if declared * rate * channels >= max_seconds * INPUT_RATE_BUDGET:
            raise _too_dense(rate, channels, max_seconds, declared)
    return declared


def _declared_duration(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_dense(rate: int, channels: int, max_seconds: float, seconds: float | None = None) -> AudioTooLong:
    allowed = max_seconds * INPUT_RATE_BUDGET / max(1, rate * channels)
    length = f"{seconds:.0f} s at " if seconds is not None else ""
    return AudioTooLong(
        f"the recording holds too much audio data ({length}{rate / 1000:g} kHz with {channels} channels; at that "
        f"rate the limit is {allowed:.0f} s): convert it to 48 kHz stereo or less"
    )


def decode_stream(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    max_seconds: float,
    declared: float | None,
    cancel: threading.Event | None,
    head: tuple[int, Callable[[np.ndarray], None]] | None = None,
    sink: Callable[[np.ndarray], None] | None = None,
) -> tuple[np.ndarray, float]:
    """The stream's samples at 16 kHz mono in one buffer (no more than the cap ever allocated), and its peak.

    `head` = (samples, callback): the callback gets a copy of the first samples once that many are decoded
    (a copy: the buffer may move when it grows), so recognition can start while the rest still decodes.
    `sink` gets every piece of samples as it is decoded (for a client that streams PCM on).

    The buffer is sized from the declared duration (1 s to spare) or `_UNKNOWN_LENGTH_S`, grows 1.5x when
    a header understated the length (never past the cap), and is trimmed in place at the end (realloc: no
    second copy).
    """
    # Samples that make a recording too long: refused before they are written, so never allocated.
    limit = math.ceil(max_seconds * SAMPLE_RATE) if math.isfinite(max_seconds) else 1 << 62
    budget = max_seconds * INPUT_RATE_BUDGET
    expected = (declared + 1.0) if declared is not None else _UNKNOWN_LENGTH_S
    # Zeroed (calloc: pages untouched until written), so stretches of digital silence are never written.
    buf = np.zeros(max(1, min(limit, math.ceil(expected * SAMPLE_RATE))), dtype=np.float32)
    n = 0
    peak = 0.0
    consumed = 0  # input samples (per channel x channels)
    seconds_in = 0.0
    packets = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    pending_head = head

    def put(frames: list[av.AudioFrame]) -> None:
        nonlocal buf, n, peak, pending_head
        for out in frames:
            chunk = out.to_ndarray().reshape(-1)
            if not chunk.size:
                continue
            end = n + chunk.size
            if end >= limit:
                raise AudioTooLong(f"the recording is too long (it does not end before the {max_seconds:.0f} s limit)")
            if end > buf.size:
                buf.resize(min(limit, max(end, buf.size * 3 // 2)), refcheck=False)
            high, low = float(chunk.max()), float(chunk.min())
            if high or low:
                buf[n:end] = chunk
                peak = max(peak, high, -low)
            n = end
            if sink is not None:
                sink(chunk)
            if pending_head is not None and n >= pending_head[0]:
                pending_head[1](buf[:n].copy())
                pending_head = None

    try:
        for packet in container.demux(stream):
            if cancel is not None and cancel.is_set():
                raise DecodeCancelled()
            packets += 1
            for frame in packet.decode():
                channels = frame.layout.nb_channels
                consumed += frame.samples * channels
                seconds_in += frame.samples / (frame.sample_rate or SAMPLE_RATE)
                if consumed >= budget:
                    raise _too_dense(frame.sample_rate, channels, max_seconds)
                put(resampler.resample(frame))
            if packets > _PACKET_GRACE and packets > MAX_PACKET_RATE * seconds_in:
                per_second = packets / max(seconds_in, 1e-3)
                raise UnsupportedAudio(
                    f"this recording is cut into too many tiny packets to decode ({per_second:.0f} per second of "
                    f"audio; voice codecs use at most 400)"
                )
        put(resampler.resample(None))
    except av.error.FFmpegError as exc:
        raise CorruptAudio(f"the audio file is damaged ({exc.strerror or exc})") from exc
    if n < buf.size:
        buf.resize(n, refcheck=False)  # in place: the only reference is ours
    return buf, peak


async def load_audio(data: bytes, *, max_bytes: int, max_seconds: float) -> DecodedAudio:
    """`decode_audio_bytes` off the event loop; cancelling the await stops the decoding thread too."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(
            decode_audio_bytes, data, max_bytes=max_bytes, max_seconds=max_seconds, cancel=cancel
        )
    finally:
        cancel.set()  # done, failed or cancelled: a thread still decoding stops at its next packet


def encode_wav(samples: np.ndarray) -> bytes:
    """16 kHz mono samples in [-1, 1] as 16-bit PCM WAV: lossless bytes that `decode_audio_bytes` reads back."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()
