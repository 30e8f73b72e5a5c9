"""Pipeline overhead: note submitted -> placeholder posted, and sustained notes/second, with an instant
transcriber (no ASR cost), a real SQLite file and the real core. Baseline: the same platform calls made
directly, without the core (the floor any bot pays)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.common import Report, median, p95
from bot.config import Settings
from bot.core import Voxnote
from bot.models import (
    AudioNote,
    DoneEvent,
    LanguageEvent,
    MessageRef,
    Platform,
    Segment,
    TextDeltaEvent,
    Transcript,
    TranscriptionEvent,
    TranscriptionRequest,
)
from storage import SQLiteStore

TEXT = "This is an instant transcript."


class InstantTranscriber:
    can_fetch_urls = False

    async def complete(self, request: TranscriptionRequest) -> Transcript:
        return Transcript(text=TEXT, segments=[Segment(text=TEXT, start=0, end=1)])

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        yield LanguageEvent(audio_language="en")
        yield TextDeltaEvent(text=TEXT)
        yield DoneEvent(**(await self.complete(request)).model_dump())

    async def aclose(self) -> None:
        pass


class TimingPlatform:
    """In-process platform that timestamps the first post for each note and counts final edits."""

    name = "console"
    max_message_chars = 4000
    min_edit_interval = 0.0

    def __init__(self) -> None:
        self.posted: dict[str, float] = {}
        self.finals: dict[str, int] = {}
        self.all_done = asyncio.Event()
        self.expected = 0
        self._ids = itertools.count()

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        self.posted.setdefault(note.message_id, time.perf_counter())
        return MessageRef(platform=note.platform, channel_id=note.channel_id, message_id=note.message_id)

    async def edit(self, ref: MessageRef, text: str) -> None:
        if text == TEXT:
            self.finals[ref.message_id] = self.finals.get(ref.message_id, 0) + 1
            if len(self.finals) >= self.expected:
                self.all_done.set()

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        return ref

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        pass

    async def delete(self, ref: MessageRef) -> None:
        pass

    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        return b"\0" * 64


def make_note(i: int, workspaces: int) -> AudioNote:
    return AudioNote(platform=Platform.console, workspace_id=f"w{i % workspaces}", channel_id="c",
                     message_id=f"m{i}", attachment_id=f"f{i}", filename="n.ogg", size=64)


async def run(notes: int, repeats: int) -> Report:
    report = Report("overhead")
    full = await measure(notes, repeats, "FULL")
    normal = await measure(notes, repeats, "NORMAL")
    latencies, rates, lost, base_latencies, base_rates = full
    # The floor (the same platform calls without the core) is microseconds in-process, so a ratio
    # against it says nothing: these rows are absolute, and the floor goes in the notes.
    report.add("placeholder latency p95", p95(latencies) * 1000, "ms", target="<= 20 ms")
    report.add("placeholder latency median", median(latencies) * 1000, "ms")
    report.add("sustained throughput", median(rates), "notes/s", target=">= 200 notes/s")
    report.add("notes lost or doubled", lost + normal[2], "notes", target="0")
    # Durability's price: every commit synced (FULL, the default) against NORMAL, same process.
    report.add("throughput, synchronous=FULL vs NORMAL", median(rates), "notes/s", baseline=median(normal[1]))
    report.add("placeholder median, synchronous=FULL vs NORMAL", median(latencies) * 1000, "ms",
               baseline=median(normal[0]) * 1000)
    report.notes.append(
        f"{notes} notes per burst over 8 workspaces, {repeats} repeats, real SQLite (WAL, synchronous=FULL); "
        f"floor without the core: {median(base_latencies) * 1e6:.1f} µs per placeholder, "
        f"{median(base_rates):,.0f} notes/s; synchronous=NORMAL: {median(normal[1]):,.0f} notes/s, "
        f"placeholder median {median(normal[0]) * 1000:.2f} ms"
    )
    return report


async def measure(notes: int, repeats: int, synchronous: str) -> tuple[list[float], list[float], int, list[float], list[float]]:
    """Placeholder latencies, burst rates and lost/doubled notes with the store in `synchronous` mode,
    and the floor's latencies and rates."""
    latencies: list[float] = []
    rates: list[float] = []
    base_latencies: list[float] = []
    base_rates: list[float] = []
    lost = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(db_path=Path(tmp) / "b.db", jobs_concurrency=2, jobs_per_workspace=2, _env_file=None)
            store = await SQLiteStore.open(settings.db_path, synchronous=synchronous)
            platform = TimingPlatform()
            platform.expected = notes
            core = Voxnote(settings, store, InstantTranscriber())
            await core.start()
            # Latency: one note at a time, submit -> placeholder posted.
            for i in range(50):
                note = make_note(10_000_000 + i, 8)
                t0 = time.perf_counter()
                await core.submit(note, platform)
                while note.message_id not in platform.posted:
                    await asyncio.sleep(0)
                latencies.append(platform.posted[note.message_id] - t0)
            await core.wait_idle()
            platform.finals.clear()
            platform.all_done.clear()
            # Throughput: a burst of notes over 8 workspaces, until every final text is in.
            t0 = time.perf_counter()
            for i in range(notes):
                await core.submit(make_note(i, 8), platform)
            await asyncio.wait_for(platform.all_done.wait(), timeout=600)
            rates.append(notes / (time.perf_counter() - t0))
            lost += notes - len(platform.finals) + sum(1 for n in platform.finals.values() if n != 1)
            await core.stop()
            await store.close()
        # Baseline: the same platform calls without the core.
        platform = TimingPlatform()
        platform.expected = notes
        for i in range(50):
            note = make_note(20_000_000 + i, 8)
            t0 = time.perf_counter()
            await platform.post_reply(note, "…")
            base_latencies.append(platform.posted[note.message_id] - t0)
        t0 = time.perf_counter()
        for i in range(notes):
            ref = await platform.post_reply(make_note(i, 8), "…")
            await platform.edit(ref, TEXT)
        base_rates.append(notes / (time.perf_counter() - t0))
    return latencies, rates, lost, base_latencies, base_rates


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(run(notes=30 if args.quick else 1000, repeats=1 if args.quick else 3))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
