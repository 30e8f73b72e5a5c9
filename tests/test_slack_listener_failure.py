"""A delivery whose listener failed in-process (a store error, a bug) is not acked, so Slack delivers it
again, and that redelivery must be handled, not dropped as a repeat: the note is not lost."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.models import Segment
from tests.fixtures.slack import SIGNING_SECRET, FakeSlack, post_signed
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Delivered at last.", start=0, end=1)]


def fail_first_add_job(store) -> None:
    real = store.add_job
    failures = [sqlite3.OperationalError("disk I/O error")]

    async def add_job(note, on_demand=False, **options):
        if failures:
            raise failures.pop()
        return await real(note, on_demand, **options)

    store.add_job = add_job


async def test_socket_mode_redelivery_after_a_failed_listener_is_handled(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    fail_first_add_job(h.store)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    body = fake_slack.event_callback(msg)
    await h.deliver(body, envelope_id="env-1")
    await asyncio.sleep(0.5)
    assert not fake_slack.acks_of("env-1")  # not stored, so not acked: Slack will try again
    await h.deliver(body, envelope_id="env-1", retry=1)
    await fake_slack.wait_ack("env-1")
    await h.answered_once(msg, SEGMENTS[0].text)


async def test_http_retry_after_a_failed_listener_is_handled(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0), mode="http")
    fail_first_add_job(h.store)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    body = fake_slack.event_callback(msg)
    status, _ = await post_signed(h.events_url, body, SIGNING_SECRET)
    assert status != 200  # Slack retries a delivery that was not answered 200
    await h.deliver(body, retry=1)
    await h.answered_once(msg, SEGMENTS[0].text)
