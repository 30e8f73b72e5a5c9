"""Time to first partial: note submitted -> first recognised text edited into the reply, through the
real core with the local engine. Baseline in the same run: the same note transcribed without
streaming (plain faster-whisper `transcribe()` to the full text), which is when a non-streaming bot
could first show anything."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.audio import speech_of_length, wav_bytes
from bench.common import Report, median
from bot.config import Settings
from bot.core import Voxnote
from bot.engine.local import LocalTranscriber
from bot.models import AudioNote, ChannelSettings, MessageRef, Platform
from bot.pipeline import PLACEHOLDER
from storage import SQLiteStore


class FirstTextPlatform:
    name = "console"
    max_message_chars = 4000
    min_edit_interval = 1.0

    def __init__(self) -> None:
        self.reset(b"")

    def reset(self, data: bytes) -> None:
        self.data = data
        self.posted_at: float | None = None
        self.first_text_at: float | None = None

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        self.posted_at = time.perf_counter()
        return MessageRef(platform=note.platform, channel_id=note.channel_id, message_id="r")

    async def edit(self, ref: MessageRef, text: str) -> None:
        # Partials are the placeholder line plus recognised text; the final text has no placeholder.
        if self.first_text_at is None and ("\n" in text or not text.startswith(PLACEHOLDER)):
            self.first_text_at = time.perf_counter()

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        return ref

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        pass

    async def delete(self, ref: MessageRef) -> None:
        pass

    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        return self.data


async def one_note(core: Voxnote, platform: FirstTextPlatform, data: bytes, n: int) -> tuple[float, float]:
    platform.reset(data)  # the core keeps the first platform registered for a kind: reuse it
    note = AudioNote(platform=Platform.console, workspace_id="w", channel_id="c", message_id=f"m{n}",
                     attachment_id=f"a{n}", filename="note.wav", size=len(data))
    t0 = time.perf_counter()
    await core.submit(note, platform)
    await core.wait_idle(timeout=3600)
    assert platform.first_text_at is not None and platform.posted_at is not None
    return platform.first_text_at - t0, platform.posted_at - t0


def plain_transcribe_seconds(engine: LocalTranscriber, samples) -> float:
    model = engine.load()
    t0 = time.perf_counter()
    segments, _ = model.transcribe(samples, language="en")
    "".join(s.text for s in segments)
    return time.perf_counter() - t0


async def run(lengths: list[float], repeats: int, model: str = "base") -> Report:
    report = Report("first_partial")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=Path(tmp) / "b.db", model=model, _env_file=None)
        store = await SQLiteStore.open(settings.db_path)
        await store.set_settings(Platform.console, "w", "c", ChannelSettings(language="en", summary_threshold_s=None))
        engine = LocalTranscriber.from_settings(settings)
        await engine.warm()
        core = Voxnote(settings, store, engine)
        platform = FirstTextPlatform()
        await core.start()
        n = 0
        for seconds in lengths:
            samples = speech_of_length(seconds)
            data = wav_bytes(samples)
            firsts, posts, bases = [], [], []
            for _ in range(repeats):
                n += 1
                first, posted = await one_note(core, platform, data, n)
                firsts.append(first)
                posts.append(posted)
                bases.append(await asyncio.to_thread(plain_transcribe_seconds, engine, samples))
            label = f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"
            report.add(f"first partial, {label} note", median(firsts), "s", median(bases), "<= 1.0 s")
            report.add(f"placeholder, {label} note", median(posts) * 1000, "ms")
        await core.stop()
        await engine.aclose()
        await store.close()
    report.notes.append(
        f"{model} int8, {settings.cpu_threads} threads, language set; medians of {repeats}; "
        "baseline = plain faster-whisper transcribe() of the whole note (time to the full text)"
    )
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        report = asyncio.run(run([5], 2, model="tiny.en"))  # two notes: the second reuses the platform
    else:
        report = asyncio.run(run([10, 60, 300], 3))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
