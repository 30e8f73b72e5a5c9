"""Socket Mode survives Slack's connection refresh: a new one-time URL, then events flow again."""

from __future__ import annotations

from bot.models import Segment
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"


async def test_disconnect_request_leads_to_a_fresh_connection(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber([Segment(text="Still here.", start=0, end=1)], delay=0))
    await fake_slack.refresh_connection()
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    assert all(c.token == fake_slack.app_token for c in fake_slack.calls_to("apps.connections.open"))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    envelope = await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_ack(envelope)
    await fake_slack.wait_for(lambda: any(m["text"] == "Still here." for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
