"""Benchmark audio: the shipped real-speech clips, decoded and strung together to any length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.engine.audio import SAMPLE_RATE, decode_audio_bytes, encode_wav

ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted(
    [ROOT / "samples" / "voice-note.ogg"]
    + [p for p in (ROOT / "tests" / "data").glob("*.ogg") if (p.with_suffix(".LICENSE.txt")).exists()]
)


def clip_samples(path: Path) -> np.ndarray:
    return decode_audio_bytes(path.read_bytes(), max_bytes=1 << 30, max_seconds=1e9).samples


def speech_of_length(seconds: float) -> np.ndarray:
    """Real speech clips, each followed by 0.6 s of silence, repeated until `seconds` long."""
    pieces: list[np.ndarray] = []
    total = 0
    target = int(seconds * SAMPLE_RATE)
    pause = np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.float32)
    clips = [clip_samples(p) for p in CLIPS]
    i = 0
    while total < target:
        for piece in (clips[i % len(clips)], pause):
            pieces.append(piece)
            total += len(piece)
        i += 1
    return np.concatenate(pieces)[:target]


# The bench scripts' name for it: a note's bytes as uploaded, without lossy re-encoding.
wav_bytes = encode_wav


def opus_bytes(samples: np.ndarray, fmt: str = "ogg") -> bytes:
    """16 kHz samples as Opus in Ogg (`fmt="ogg"`, a Discord voice message) or WebM (a Slack clip), at
    libopus's default rate: what users post, at about 11 KB a second of audio."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream("libopus", rate=48000)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for resampled in av.AudioResampler(format="s16", layout="mono", rate=48000).resample(frame):
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
