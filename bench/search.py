"""Transcript search: `/voxnote search` through the core's command path over a real SQLite file of many
stored transcripts, and what the full-text index costs each stored transcript.

Baselines, same process, same store: `/voxnote settings` through the same path (the cheapest command:
one keyed read), and `save_transcript` on the same file with the index's triggers dropped."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import tempfile
import time
from pathlib import Path

from bench.common import Report, median, p95
from bench.overhead import InstantTranscriber
from bot.commands import CommandContext
from bot.config import Settings
from bot.core import Voxnote
from bot.models import AudioNote, Platform, Segment, Transcript
from storage import SQLiteStore

# A vocabulary of everyday meeting words; notes draw from it unevenly (Zipf-like), as speech does.
WORDS = ("the a to and of we it is that for on this in you can budget review release deploy customer team "
         "meeting thursday friday monday report numbers quarter plan design server database migration test "
         "incident alert oncall dashboard invoice contract hiring interview roadmap launch feedback bug fix "
         "latency outage backup security audit partner demo sprint retro estimate deadline office travel").split()
CHANNELS = 20


def transcript(rng: random.Random, words: int) -> Transcript:
    text = " ".join(rng.choices(WORDS, weights=[1 / (i + 1) for i in range(len(WORDS))], k=words))
    return Transcript(text=text, segments=[Segment(text=text, start=0, end=words / 2.5)])


def note(i: int) -> AudioNote:
    return AudioNote(platform=Platform.slack, workspace_id="T1", channel_id=f"C{i % CHANNELS}", message_id=f"{i}.0",
                     author_id=f"U{i % 7}", attachment_id=f"F{i}", filename="n.ogg")


async def saves(store: SQLiteStore, rng: random.Random, start: int, count: int) -> list[float]:
    took = []
    for i in range(start, start + count):
        t = transcript(rng, 60)
        t0 = time.perf_counter()
        await store.save_transcript(note(i), t)
        took.append(time.perf_counter() - t0)
    return took


async def run(notes: int, queries: int) -> Report:
    report = Report("search")
    rng = random.Random(19)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=Path(tmp) / "s.db", _env_file=None)  # type: ignore[call-arg]
        store = await SQLiteStore.open(settings.db_path)
        indexed = await saves(store, rng, 0, notes)
        core = Voxnote(settings, store, InstantTranscriber())  # never started: commands only
        ctx = CommandContext(Platform.slack, "T1", "C3", "U1", is_admin=False)
        search_s, settings_s, hits = [], [], 0
        for _ in range(queries):
            words = " ".join(rng.sample(WORDS[10:], 2))
            t0 = time.perf_counter()
            answer = await core.run_command(ctx, f"search {words}")
            search_s.append(time.perf_counter() - t0)
            hits += len(re.findall(r"^\d+\. ", answer, re.MULTILINE))
            t0 = time.perf_counter()
            await core.run_command(ctx, "settings")
            settings_s.append(time.perf_counter() - t0)
        # The index's price per stored transcript: the same saves with its triggers dropped.
        with_index = await saves(store, rng, notes, 200)
        for trigger in ("insert", "delete", "update"):
            await store._db.execute(f"DROP TRIGGER transcripts_fts_{trigger}")
        without_index = await saves(store, rng, notes + 200, 200)
        await store.close()
    report.add(f"/voxnote search over {notes:,} notes, median", median(search_s) * 1000, "ms",
               baseline=median(settings_s) * 1000, target="<= 20 ms")
    report.add(f"/voxnote search over {notes:,} notes, p95", p95(search_s) * 1000, "ms",
               baseline=p95(settings_s) * 1000)
    report.add("save_transcript with the index vs without", median(with_index) * 1000, "ms",
               baseline=median(without_index) * 1000)
    report.notes.append(
        f"{notes:,} transcripts of 60 words in {CHANNELS} channels, {queries} two-word searches in one channel "
        f"({hits / max(queries, 1):.1f} hits each on average); baseline rows: `/voxnote settings` through the same "
        f"path, and save_transcript without the FTS5 triggers; first {notes:,} saves median "
        f"{median(indexed) * 1000:.2f} ms (synchronous=FULL)"
    )
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(run(notes=300 if args.quick else 10_000, queries=20 if args.quick else 200))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
