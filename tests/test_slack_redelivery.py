"""The same note delivered three times (Slack retries, Socket Mode redelivery) gets one reply."""

from __future__ import annotations

import asyncio
import logging

from bot.models import Segment
from tests.fixtures.slack import FakeSlack, SlackHarness
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Only once, please.", start=0, end=1)]


async def _answered(fake: FakeSlack, h: SlackHarness) -> None:
    await fake.wait_for(lambda: any(m["text"] == SEGMENTS[0].text for m in fake.bot_messages(CHANNEL)))
    await h.core.wait_idle()


@on_both_backends
async def test_socket_mode_envelope_redelivered_three_times(slack_harness, fake_slack: FakeSlack, caplog) -> None:
    caplog.set_level(logging.INFO, logger="adapters.slack.app")
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.05))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    body = fake_slack.event_callback(msg)
    # Slack thought the first ack was late: the same envelope again, then as retries 1 and 2.
    await asyncio.gather(
        h.deliver(body, envelope_id="env-1"),
        h.deliver(body, envelope_id="env-1", retry=1),
        h.deliver(body, envelope_id="env-1", retry=2),
    )
    await fake_slack.wait_ack("env-1", count=3)  # every delivery is acked, so Slack stops retrying
    await _answered(fake_slack, h)
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.downloads) == 1
    # The adapter itself dropped the repeats (before the core's idempotent submit had to).
    assert sum("skipping repeated delivery" in r.getMessage() for r in caplog.records) == 2


@on_both_backends
async def test_http_retries_with_retry_headers(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.05), mode="http")
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    body = fake_slack.event_callback(msg)
    for retry in (None, 1, 2):
        await h.deliver(body, retry=retry)  # each answered 200
    await _answered(fake_slack, h)
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 1
    assert len(fake_slack.downloads) == 1


async def test_same_file_in_distinct_events_is_still_one_note(slack_harness, fake_slack: FakeSlack) -> None:
    """Different event ids for one message (e.g. delivered after a restart): the core's note key holds."""
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.05))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    for _ in range(3):
        await h.deliver(fake_slack.event_callback(msg))
    await _answered(fake_slack, h)
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 1
