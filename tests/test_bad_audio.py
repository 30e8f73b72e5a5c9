"""Malformed input through the whole core with the real engine: each kind gets its own plain message
in the reply, the job ends (no retry loop), nothing crashes and no traceback reaches the chat."""

import io

import av
import numpy as np
import pytest

from bot.engine.audio import SAMPLE_RATE, encode_wav
from bot.config import Settings
from bot.core import Voxnote
from bot.engine.local import LocalTranscriber
from storage import JobStatus, SQLiteStore
from tests.fixtures.engine import clip_path, engine_settings
from tests.fixtures.platform import RecordingPlatform

SAMPLE = clip_path("voice-note").read_bytes()


def wav(seconds: float, tone: bool = False) -> bytes:
    n = int(seconds * SAMPLE_RATE)
    if tone:
        return encode_wav(0.3 * np.sin(np.arange(n) * 2 * np.pi * 440 / SAMPLE_RATE).astype(np.float32))
    return encode_wav(np.zeros(n, dtype=np.float32))


def encoded(fmt: str, codec: str, seconds: float, rate: int = 48000) -> bytes:
    """Silence encoded with PyAV (no system ffmpeg needed)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame_size = stream.codec_context.frame_size or 1024
        for i in range(int(seconds * rate / frame_size)):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, frame_size), dtype=np.float32 if codec != "libopus" else np.float32),
                                               format="fltp", layout="mono")
            frame.rate = rate
            frame.pts = i * frame_size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def video_only() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def header_only_wav() -> bytes:
    return wav(0)


rng = np.random.default_rng(7)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 400, dtype=np.uint8))

# (name, filename, bytes, words the message must contain)
CORPUS = [
    ("zero-byte", "note.ogg", b"", "empty"),
    ("random bytes .ogg", "note.ogg", bytes(rng.integers(0, 256, 4000, dtype=np.uint8)), "not audio"),
    ("random bytes .mp3", "note.mp3", bytes(rng.integers(0, 256, 4000, dtype=np.uint8)), "not audio"),
    ("random bytes .m4a", "memo.m4a", bytes(rng.integers(0, 256, 9000, dtype=np.uint8)), "not audio"),
    ("text named .wav", "note.wav", b"hello, this is a text file\n" * 50, "not audio"),
    ("html sign-in page .mp3", "note.mp3", b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>", "not audio"),
    ("json named .webm", "clip.webm", b'{"ok": false, "error": "not_authed"}', "not audio"),
    ("png named .ogg", "note.ogg", PNG, "not audio"),
    ("pdf named .flac", "a.flac", b"%PDF-1.4\n" + b"x" * 500, "not audio"),
    ("gzip named .opus", "a.opus", b"\x1f\x8b\x08\x00" + b"\x00" * 300, "not audio"),
    ("ogg header only", "note.ogg", SAMPLE[:200], "truncated"),
    ("ogg cut mid-page", "note.ogg", SAMPLE[:6000], "truncated"),
    ("wav cut mid-data", "note.wav", wav(2, tone=True)[:20000], "truncated"),
    ("wav header only (0 s)", "note.wav", header_only_wav(), "no sound"),
    ("flac 0 s", "note.flac", encoded("flac", "flac", 0, rate=16000), "no sound"),
    ("riff with garbage", "note.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 64, "damaged"),
    ("silence wav", "quiet.wav", wav(4), "no speech"),
    ("silence flac", "quiet.flac", encoded("flac", "flac", 4, rate=16000), "no speech"),
    ("pure tone", "beep.wav", wav(3, tone=True), "no speech"),
    ("video without audio", "clip.mp4", video_only(), "no audio track"),
    ("too long for the engine", "long.wav", wav(8), "too long"),
]


@pytest.fixture(scope="module")
async def strict_engine(local_engine):
    """The session's model with tight duration limits (6 s), so 'too long' needs no hour of audio."""
    engine = LocalTranscriber(engine_settings(max_audio_seconds=6))
    engine._model = local_engine.load()  # share the loaded weights; loading twice costs seconds
    yield engine


@pytest.mark.slow
async def test_every_malformed_input_gets_its_own_message(tmp_path, strict_engine):
    settings = Settings(db_path=tmp_path / "v.db", jobs_concurrency=2, jobs_per_workspace=2, _env_file=None)
    store = await SQLiteStore.open(settings.db_path)
    platform = RecordingPlatform(min_edit_interval=0.01)
    core = Voxnote(settings, store, strict_engine)
    await core.start()
    notes = {}
    for i, (name, filename, data, _) in enumerate(CORPUS):
        note = platform.note(data, f"m{i}", filename=filename, size=None)
        notes[name] = note
        assert await core.submit(note, platform)
    # Oversized: refused from the platform's size before any download.
    big = platform.note(b"x" * 10, "big", size=settings.max_audio_bytes + 1)
    await core.submit(big, platform)
    await core.wait_idle(timeout=240)
    await core.stop()

    replies = {c.ref.thread_id: c.ref.message_id for c in platform.of("post_reply")}
    failures = []
    by_kind: dict[str, set[str]] = {}
    for name, _, _, expected in [*CORPUS, ("oversized", "", b"", "too large")]:
        note = notes.get(name, big)
        final = platform.texts(replies[note.message_id])[-1]
        job = await store.get_job(note.idempotency_key)
        by_kind.setdefault(expected, set()).add(final.split(":", 2)[-1].strip())
        # Final at once: one plain message, the job failed, never retried.
        if expected not in final.lower() or "traceback" in final.lower() or job.status != JobStatus.failed \
                or job.attempts != 0 or "will retry" in " ".join(platform.texts(replies[note.message_id])).lower():
            failures.append((name, final, job.status, job.attempts))
    await store.close()
    assert not failures, failures
    assert len(platform.of("post_reply")) == len(CORPUS) + 1  # one reply per note, none doubled
    # Its own message: no two kinds of bad input share a wording.
    wordings = [w for ws in by_kind.values() for w in ws]
    assert len(wordings) == len(set(wordings)), by_kind
