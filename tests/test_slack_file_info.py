"""Files an event names without their metadata, and reactions on messages the bot never saw, are stored
as jobs at once and resolved inside them: a failing files.info or history call is retried, not a lost note,
and nothing rate-limited runs before the ack."""

from __future__ import annotations

import pytest

from bot.models import Segment
from tests.fixtures.slack import FakeSlack, Limit
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Shared from elsewhere.", start=0, end=1)]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)


def _shared_file_message(fake: FakeSlack) -> dict:
    """A clip shared from another workspace: the event carries only the file id."""
    f = fake.add_file(b"OggS")
    msg = fake.user_message(CHANNEL, [f])
    msg["files"] = [{"id": f.id, "file_access": "check_file_info"}]
    return msg


async def test_a_failing_files_info_is_retried_not_a_lost_note(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    fake_slack.errors["files.info"] = ["internal_error"]
    msg = _shared_file_message(fake_slack)
    envelope = await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_ack(envelope)
    await h.answered_once(msg, SEGMENTS[0].text)
    assert len(fake_slack.calls_to("files.info")) >= 2


async def test_a_shared_file_that_is_no_audio_gets_no_reply(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    f = fake_slack.add_file(b"\x89PNG", name="diagram.png", mimetype="image/png", filetype="png", subtype=None)
    msg = fake_slack.user_message(CHANNEL, [f])
    msg["files"] = [{"id": f.id, "file_access": "check_file_info"}]
    envelope = await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_ack(envelope)
    await fake_slack.wait_for(lambda: fake_slack.calls_to("files.info"))
    await h.core.wait_idle()
    assert not fake_slack.bot_messages(CHANNEL)


async def test_a_reaction_is_acked_before_any_web_api_call(slack_harness, fake_slack: FakeSlack):
    """A reaction on a message the bot never saw: the history look-up happens in the job, after the ack."""
    # A Marketplace app's history budget (50/min; here 30), so the retried look-up takes 2 s, not 60.
    fake_slack.limits["conversations.history"] = Limit(per_minute=30, burst=1)
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0), slack_history_per_minute=30)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])  # its event never reached us
    fake_slack.errors["conversations.history"] = ["internal_error"]
    envelope = await h.deliver(fake_slack.event_callback(fake_slack.reaction_added(CHANNEL, msg["ts"])))
    await fake_slack.wait_ack(envelope)
    acked_at = fake_slack.ack_time(envelope)
    await h.answered_once(msg, SEGMENTS[0].text)
    history = fake_slack.calls_to("conversations.history")
    assert len(history) >= 2  # the failed look-up was retried
    assert all(c.at > acked_at for c in history)
