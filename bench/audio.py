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
