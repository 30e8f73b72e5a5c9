"""Scale-out: notes per second to the final transcript with two bot replicas and two engines, against one
of each, in the same run. Real `voxnote run` processes on one PostgreSQL (a fresh schema per run), in
Socket Mode on the fake Slack, with fake engines that take a fixed time per note and transcribe one
note at a time (a 2-core `voxnote serve` decodes one note at a time), so the ratio measures the
scale-out, not this machine. Needs VOXNOTE_TEST_DATABASE_URL (PostgreSQL); skipped without it.

    python -m bench.replicas            # 24 notes at 2.5 s each (a 30 s note at 12x real time)
    python -m bench.replicas --quick    # 6 notes at 0.5 s each"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import web

from bench.common import Report
from tests.fixtures.mistral import FakeMistral, RecordedRequest, Reply
from tests.fixtures.slack import FakeSlack
from tests.fixtures.stores import with_search_path
from tests.test_chaos import CHANNEL, chaos_limits, final_text_ok, transcript_for
from tests.test_chaos_replicas import replica


class OneAtATimeEngine(FakeMistral):
    """A transcription service with one decoder: a note waits for the one before it, then takes
    `seconds_per_note` (what a real engine's real-time factor makes of the average note)."""

    def __init__(self, seconds_per_note: float) -> None:
        super().__init__()
        self.seconds_per_note = seconds_per_note
        self.responder = self._answer
        self._slot: asyncio.Semaphore | None = None

    def _answer(self, request: RecordedRequest) -> Reply:
        reply = transcript_for(request)
        reply.delay, reply.event_delay = self.seconds_per_note, 0.0
        return reply

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path != "/v1/audio/transcriptions":
            return await super()._handle(request)
        if self._slot is None:
            self._slot = asyncio.Semaphore(1)  # made on the server's own loop
        async with self._slot:
            return await super()._handle(request)


async def notes_per_second(database_url: str, replicas: int, engines: int, notes: int, seconds_per_note: float,
                           workdir: Path) -> float:
    """Post `notes` at once and time them to their final transcripts."""
    import psycopg

    schema = f"voxnote_bench_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]  # a bench's own schema
    slack = FakeSlack()
    await slack.start()
    chaos_limits(slack)  # a workspace 20 times Slack's budget: the engines, not Slack's limits, set the pace
    slack.redeliver = True
    fakes = [OneAtATimeEngine(seconds_per_note).start() for _ in range(engines)]
    bots = [replica(slack, fakes, with_search_path(database_url, schema), workdir / f"{schema}-{i}.log")
            for i in range(replicas)]
    try:
        for bot in bots:
            await bot.start()
        await slack.wait_for(lambda: slack.open_connections == replicas, timeout=120)
        messages = []
        t0 = time.perf_counter()
        for n in range(notes):
            msg = slack.user_message(CHANNEL, [slack.add_file(f"note {n}".encode(), name=f"note-{n}.webm")])
            messages.append(msg)
            await slack.send_envelope("events_api", slack.event_callback(msg))
        deadline = time.monotonic() + 60 + 2 * notes * seconds_per_note / engines
        while not all(final_text_ok(slack, m) for m in messages):
            if time.monotonic() > deadline:
                raise TimeoutError(f"unfinished notes; see {workdir}")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        if any(len(slack.bot_messages(CHANNEL, thread_ts=m["ts"])) != 1 for m in messages):
            raise AssertionError("a note got other than one reply")
        return notes / elapsed
    finally:
        for bot in bots:
            if bot.proc is not None and bot.proc.returncode is None:
                await bot.terminate()
        for engine in fakes:
            engine.stop()
        await slack.stop()
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[arg-type]


async def run(notes: int, seconds_per_note: float) -> Report:
    report = Report("replicas")
    database_url = os.environ.get("VOXNOTE_TEST_DATABASE_URL")
    if not database_url:
        report.add("runs skipped (no PostgreSQL: set VOXNOTE_TEST_DATABASE_URL)", 1, "")
        report.notes.append("two replicas need a shared PostgreSQL; none was named, nothing was measured")
        return report
    with tempfile.TemporaryDirectory() as tmp:
        one = await notes_per_second(database_url, 1, 1, notes, seconds_per_note, Path(tmp))
        two = await notes_per_second(database_url, 2, 2, notes, seconds_per_note, Path(tmp))
    report.add("throughput, 1 replica + 1 engine", one, "notes/s")
    report.add("throughput, 2 replicas + 2 engines", two, "notes/s", baseline=one, target="ratio ≈ 2")
    report.notes.append(f"{notes} notes posted at once; each engine decodes one note at a time in "
                        f"{seconds_per_note} s; 4 jobs per replica; PostgreSQL; scale-out ratio {two / one:.2f}")
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(run(6, 0.5) if args.quick else run(24, 2.5))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
