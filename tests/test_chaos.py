"""Nothing lost, nothing twice: the real bot as a subprocess (`voxnote run`, Socket Mode) against the
fake Slack and a fake transcription server, killed with SIGKILL at random moments and restarted.
Slack redelivers every envelope the bot did not ack, as the real one does. At the end every note has
exactly one reply in its thread, holding that note's own transcript."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.models import Segment, Transcript, Usage
from tests.fixtures.mistral import FakeMistral, RecordedRequest, Reply
from tests.fixtures.slack import FakeSlack, Limit

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "C0GENERAL"
NOTES = int(os.environ.get("VOXNOTE_CHAOS_NOTES", "200"))
KILLS = int(os.environ.get("VOXNOTE_CHAOS_KILLS", "5"))


def transcript_for(request: RecordedRequest) -> Reply:
    """Each note's audio bytes name the note, so each reply must carry its own note's text."""
    part = next(p for p in request.parts if p.name == "file")
    name = part.data.decode()
    segments = [Segment(text=f"This is {name}.", start=0, end=1), Segment(text="Over and out.", start=1, end=2)]
    return Reply(
        transcript=Transcript(model="fake", text=f"This is {name}. Over and out.", language="en",
                              segments=segments, usage=Usage(prompt_audio_seconds=2)),
        event_delay=0.05,
    )


class Bot:
    """`voxnote run` in a subprocess, wired to the fakes by environment variables only."""

    def __init__(self, slack: FakeSlack, mistral: FakeMistral, db: Path, log: Path) -> None:
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "VOXNOTE_SLACK_API_URL": slack.api_url,
            "VOXNOTE_TRANSCRIBER": "mistral",
            "VOXNOTE_MISTRAL_BASE_URL": mistral.url,
            "VOXNOTE_DB_PATH": str(db),
            "VOXNOTE_JOBS_CONCURRENCY": "4",
            "VOXNOTE_JOBS_PER_WORKSPACE": "4",
            "VOXNOTE_LEASE_SECONDS": "2",
            # The default attempt budget: crashes are not the notes' fault and spend none of it.
            # The pace of a workspace 20 times Slack's (see `chaos_limits`): durability is measured, not throughput.
            "VOXNOTE_SLACK_POSTS_PER_SECOND": "16",
            "VOXNOTE_SLACK_UPDATES_PER_MINUTE": "900",
            "VOXNOTE_SLACK_HISTORY_PER_MINUTE": "900",
            "VOXNOTE_LOG_LEVEL": "INFO",
        }
        self.log = log
        #: `tests.chaos_faults` runs the same CLI with in-process faults injected.
        self.module = "bot.cli"
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n===== start {self.starts} =====\n")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, "run", cwd=ROOT, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=self.log.open("a"), stderr=asyncio.subprocess.STDOUT,
        )

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 60)


class Deliverer:
    """Sends each note's envelope; after every (re)connection, resends the ones never acked."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.envelopes: dict[str, dict] = {}  # envelope id -> event body

    def unacked(self) -> list[str]:
        acked = {a.get("envelope_id") for a in self.slack.acks}
        return [e for e in self.envelopes if e not in acked]

    async def send(self, body: dict, envelope_id: str | None = None, retry: int = 0) -> None:
        try:
            # Slack queues events while the app is away; waiting briefly for a connection is enough.
            await asyncio.wait_for(self.slack.wait_connected(), 0.2)
            await asyncio.wait_for(self.slack.send_envelope("events_api", body, envelope_id=envelope_id,
                                                            retry_attempt=retry, retry_reason="timeout" if retry else None), 5)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError, AssertionError):
            pass  # the bot is down: the envelope stays unacked and is resent after the restart

    async def post(self, body: dict) -> None:
        envelope_id = f"env-{len(self.envelopes)}"
        self.envelopes[envelope_id] = body
        await self.send(body, envelope_id)

    async def redeliver(self) -> None:
        for envelope_id in self.unacked():
            await self.send(self.envelopes[envelope_id], envelope_id, retry=1)


def final_text_ok(slack: FakeSlack, msg: dict) -> bool:
    replies = slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    name = msg["files"][0]["id"]
    return len(replies) >= 1 and replies[-1]["text"] == f"This is {slack.files[name].data.decode()}. Over and out."


@pytest.mark.slow
def chaos_limits(slack: FakeSlack) -> None:
    """200 notes in a minute in one channel is 20 times what Slack lets one channel and workspace post
    and edit: the fake enforces 20-fold limits, which the bot is configured to keep. A restarted process
    starts with fresh buckets, so a few 429s right after a kill are expected (slack_sdk waits them out)."""
    slack.limits["chat.postMessage"] = Limit(per_minute=20 * 60, burst=20, per_channel=True)
    slack.limits["chat.update"] = Limit(per_minute=20 * 50, burst=200)
    # Replies found again after a kill: a Marketplace app's budget (50/min), 20-fold too.
    slack.limits["conversations.replies"] = Limit(per_minute=20 * 50, burst=20)


async def test_kill_nine_at_random_moments_loses_nothing_and_doubles_nothing(fake_slack: FakeSlack, tmp_path):
    """At the default settings, with in-process faults too: store calls failing at random, the message
    listener raising at random, files.info failing now and then."""
    chaos_limits(fake_slack)
    rng = random.Random(int(os.environ.get("VOXNOTE_CHAOS_SEED", "1234")))
    fake_slack.errors["files.info"] = ["internal_error" if rng.random() < 0.05 else "" for _ in range(4 * NOTES)]
    mistral = FakeMistral().start()
    mistral.responder = transcript_for
    bot = Bot(fake_slack, mistral, tmp_path / "voxnote.db", tmp_path / "bot.log")
    bot.module = "tests.chaos_faults"
    deliver = Deliverer(fake_slack)
    messages: list[dict] = []
    try:
        await bot.start()
        await fake_slack.wait_connected(timeout=60)
        per_round = NOTES // (KILLS + 1)
        for round_ in range(KILLS + 1):
            count = per_round if round_ < KILLS else NOTES - per_round * KILLS
            posting = asyncio.create_task(post_notes(fake_slack, deliver, messages, count))
            if round_ < KILLS:
                await asyncio.sleep(rng.uniform(0.3, 2.5))  # a random moment: mid-posting, mid-stream...
                await bot.kill()
                await posting
                connections = fake_slack.connections
                await bot.start()
                await fake_slack.wait_for(lambda: fake_slack.connections > connections, timeout=60)
                await fake_slack.wait_connected(timeout=60)
                await deliver.redeliver()
            else:
                await posting
        deadline = time.monotonic() + 240
        while not all(final_text_ok(fake_slack, m) for m in messages):
            assert time.monotonic() < deadline, f"unfinished notes; see {bot.log}"
            if deliver.unacked():
                await deliver.redeliver()
            await asyncio.sleep(0.5)
        assert await bot.terminate() == 0
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
        mistral.stop()

    assert len(messages) == NOTES and bot.starts == KILLS + 1
    log = bot.log.read_text()
    # Injected faults leave tracebacks in the log (that is how they are reported); no other may.
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d )", log)
    real = [r for r in records if "Traceback" in r and "injected:" not in r]
    assert not real, real[0][-4000:]
    assert "injected:" in log  # the faults really were injected
    doubles = {m["ts"]: n for m in messages if (n := len(fake_slack.bot_messages(CHANNEL, thread_ts=m["ts"]))) != 1}
    assert not doubles, f"notes with other than one reply: {doubles}"
    for m in messages:
        assert final_text_ok(fake_slack, m)


async def post_notes(slack: FakeSlack, deliver: Deliverer, messages: list[dict], count: int) -> None:
    for _ in range(count):
        n = len(messages)
        f = slack.add_file(f"note {n}".encode(), name=f"note-{n}.webm")
        msg = slack.user_message(CHANNEL, [f])
        messages.append(msg)
        await deliver.post(slack.event_callback(msg))
        await asyncio.sleep(0.01)


def slow_transcript(request: RecordedRequest) -> Reply:
    reply = transcript_for(request)
    reply.event_delay = 0.4  # about 2.5 s per note: long enough to be mid-stream at SIGTERM
    return reply


@pytest.mark.slow
async def test_sigterm_finishes_the_running_note_and_keeps_the_queued_one(fake_slack: FakeSlack, tmp_path):
    chaos_limits(fake_slack)
    mistral = FakeMistral().start()
    mistral.responder = slow_transcript
    bot = Bot(fake_slack, mistral, tmp_path / "voxnote.db", tmp_path / "bot.log")
    bot.env["VOXNOTE_JOBS_CONCURRENCY"] = "1"
    deliver = Deliverer(fake_slack)
    messages: list[dict] = []
    try:
        await bot.start()
        await fake_slack.wait_connected(timeout=60)
        await post_notes(fake_slack, deliver, messages, 2)
        first, second = messages
        # The first note is mid-stream (a partial is in its reply) when the stop comes.
        await fake_slack.wait_for(lambda: any(
            "…" in u.args.get("text", "") for r in fake_slack.bot_messages(CHANNEL, thread_ts=first["ts"])
            for u in fake_slack.updates_of(r["ts"])), timeout=60)
        assert await bot.terminate() == 0
        assert final_text_ok(fake_slack, first)  # finished within the grace period
        assert not final_text_ok(fake_slack, second)  # not started: still queued, not lost
        connections = fake_slack.connections
        await bot.start()
        await fake_slack.wait_for(lambda: fake_slack.connections > connections, timeout=60)
        await fake_slack.wait_for(lambda: final_text_ok(fake_slack, second), timeout=60)
        assert await bot.terminate() == 0
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
        mistral.stop()
    for m in messages:
        assert len(fake_slack.bot_messages(CHANNEL, thread_ts=m["ts"])) == 1
    assert "Traceback" not in bot.log.read_text()
