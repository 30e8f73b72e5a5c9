"""Two replicas, one PostgreSQL: two real `voxnote run` processes on a fresh database, both connected to
the fake Slack in Socket Mode (Slack spreads envelopes over the connections and redelivers one not acked
within 3 s, possibly to the other replica), with a pool of two fake transcription engines. 200 notes
arrive while one replica or the other is SIGKILLed at random moments and restarted, and one engine is
killed for good halfway. At the end every note has exactly one reply in its thread, holding that note's
own transcript: no note lost with a dead replica, none run twice by both.

Skipped unless VOXNOTE_TEST_DATABASE_URL names a PostgreSQL server (CI sets it)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from pathlib import Path

from tests.fixtures.mistral import FakeMistral
from tests.fixtures.slack import FakeSlack
from tests.fixtures.stores import Backend, needs_postgres
from tests.test_chaos import CHANNEL, Bot, chaos_limits, final_text_ok, transcript_for

pytestmark = needs_postgres

NOTES = int(os.environ.get("VOXNOTE_REPLICA_NOTES", "200"))
KILLS = int(os.environ.get("VOXNOTE_REPLICA_KILLS", "6"))
#: Notes posted per second: a busy channel, spread over about 20 s so the kills land among them.
POST_RATE = float(os.environ.get("VOXNOTE_REPLICA_POST_RATE", "10"))


def replica(slack: FakeSlack, engines: list[FakeMistral], database_url: str, log: Path) -> Bot:
    bot = Bot(slack, engines[0], log.with_suffix(".db"), log)
    bot.env.update({
        "VOXNOTE_DATABASE_URL": database_url,
        "VOXNOTE_MISTRAL_BASE_URL": ",".join(e.url for e in engines),
        # The replicas share one budget through the database (the chaos limits' pace, as in test_chaos.py);
        # the test measures durability, not throughput.
        "VOXNOTE_SLACK_POSTS_PER_SECOND": "16",
        "VOXNOTE_SLACK_UPDATES_PER_MINUTE": "900",
        "VOXNOTE_SLACK_HISTORY_PER_MINUTE": "900",
    })
    return bot


async def post_notes(slack: FakeSlack, messages: list[dict], count: int) -> None:
    """People post notes at a steady pace; Slack delivers each over one of the open connections."""
    for _ in range(count):
        n = len(messages)
        f = slack.add_file(f"note {n}".encode(), name=f"note-{n}.webm")
        msg = slack.user_message(CHANNEL, [f])
        messages.append(msg)
        await slack.send_envelope("events_api", slack.event_callback(msg), envelope_id=f"env-{n}")
        await asyncio.sleep(1 / POST_RATE)


async def restart(slack: FakeSlack, bot: Bot, owners: dict[int, Bot]) -> None:
    """Start a replica and wait for its Socket Mode connection (numbered in `owners`)."""
    before = slack.connections
    await bot.start()
    await slack.wait_for(lambda: slack.connections > before, timeout=60)
    owners[slack.connections] = bot


async def test_two_replicas_killed_at_random_lose_nothing_and_double_nothing(
    fake_slack: FakeSlack, postgres_backend: Backend, tmp_path: Path
):
    assert postgres_backend.database_url is not None
    chaos_limits(fake_slack)
    fake_slack.redeliver = True
    # Slack takes a while to post: the other replica may look at a note whose reply is on its way (what
    # once gave a few notes two replies; tests/test_core_replicas.py pins that case down).
    fake_slack.latency["chat.postMessage"] = 0.15
    rng = random.Random(int(os.environ.get("VOXNOTE_CHAOS_SEED", "1234")))
    engines = [FakeMistral().start(), FakeMistral().start()]
    for engine in engines:
        engine.responder = transcript_for
    bots = [replica(fake_slack, engines, postgres_backend.database_url, tmp_path / f"replica-{i}.log")
            for i in range(2)]
    messages: list[dict] = []
    owners: dict[int, Bot] = {}  # Socket Mode connection number -> the replica that opened it
    killed_engine_at = -1
    t0 = time.monotonic()
    try:
        for bot in bots:
            await restart(fake_slack, bot, owners)
        await fake_slack.wait_for(lambda: fake_slack.open_connections == 2, timeout=60)
        posting = asyncio.create_task(post_notes(fake_slack, messages, NOTES))
        for kill in range(KILLS):
            await asyncio.sleep(rng.uniform(1.0, 3.0))  # a random moment: mid-post, mid-stream, mid-edit...
            bot = rng.choice(bots)
            await bot.kill()
            if kill == KILLS // 2:
                # One engine dies for good: the pool sends the notes to the other one.
                killed_engine_at = len(engines[1].transcription_requests)
                await asyncio.to_thread(engines[1].stop)
            await asyncio.sleep(rng.uniform(0.2, 1.5))  # the other replica carries on alone meanwhile
            await restart(fake_slack, bot, owners)
        await posting
        deadline = time.monotonic() + 120
        while not all(final_text_ok(fake_slack, m) for m in messages):
            assert time.monotonic() < deadline, f"unfinished notes; see {tmp_path}"
            await asyncio.sleep(0.25)
        finished = time.monotonic() - t0
        while await postgres_backend.value("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"):
            assert time.monotonic() < deadline, f"jobs left running; see {tmp_path}"
            await asyncio.sleep(0.25)
        for bot in bots:
            assert await bot.terminate() == 0
    finally:
        for bot in bots:
            if bot.proc is not None and bot.proc.returncode is None:
                bot.proc.kill()
        for engine in engines:
            engine.stop()

    assert len(messages) == NOTES and sum(b.starts for b in bots) == KILLS + 2
    assert not fake_slack.dropped, f"Slack gave up on envelopes no replica acked: {fake_slack.dropped}"
    # Both replicas had notes to take: Slack spread the envelopes over both connections.
    receivers = {id(owners[fake_slack.delivered_on[f"env-{n}"][0]]) for n in range(NOTES)}
    assert receivers == {id(b) for b in bots}
    # Both engines worked, and the one left standing carried on after the other died.
    assert killed_engine_at > 0 and len(engines[0].transcription_requests) > NOTES / 4
    # The pools found the dead engine and sent those notes on to the live one at once.
    assert any("sending the note to another engine" in b.log.read_text() for b in bots)
    for i, bot in enumerate(bots):
        log = bot.log.read_text()
        records = re.split(r"\n(?=\d{4}-\d\d-\d\d )", log)
        tracebacks = [r for r in records if "Traceback" in r]
        assert not tracebacks, f"replica {i}: {tracebacks[0][-4000:]}"
    doubles = {m["ts"]: n for m in messages if (n := len(fake_slack.bot_messages(CHANNEL, thread_ts=m["ts"]))) != 1}
    assert not doubles, f"notes with other than one reply: {doubles}"
    for m in messages:
        assert final_text_ok(fake_slack, m)
    done = await postgres_backend.value("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
    assert done == NOTES
    # A lease is only ever taken over from a process that died: each kill leaves at most its running jobs
    # (VOXNOTE_JOBS_CONCURRENCY) behind. A replica taking jobs another one still runs breaks this bound
    # even when the replies come out right (it edits the same reply).
    lost = await postgres_backend.value("SELECT COALESCE(SUM(lost_leases), 0) FROM jobs")
    assert lost <= KILLS * int(bots[0].env["VOXNOTE_JOBS_CONCURRENCY"])
    # And no note was transcribed more often than its crashes and retries explain.
    retries = await postgres_backend.value("SELECT COALESCE(SUM(attempts), 0) FROM jobs")
    requests = sum(len(e.transcription_requests) for e in engines)
    assert requests <= NOTES + lost + retries
    print(f"\n{NOTES} notes final in {finished:.1f} s through {KILLS} kills; {lost} leases taken over; "
          f"{requests} transcriptions, {retries} retries; {len(fake_slack.rate_limited)} Slack calls answered 429; "
          f"{sum(len(d) > 1 for d in fake_slack.delivered_on.values())} envelopes redelivered")
