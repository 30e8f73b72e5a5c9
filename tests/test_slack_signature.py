"""HTTP mode: bolt verifies Slack's request signature; forged or stale requests are refused."""

from __future__ import annotations

import time

import aiohttp
import pytest

from bot.models import Platform, Segment
from tests.fixtures.slack import SIGNING_SECRET, FakeSlack, post_signed
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"


@pytest.mark.parametrize(
    "forgery",
    [
        {"secret": "not-the-signing-secret"},
        {"signature": "v0=" + "0" * 64},
        {"timestamp": int(time.time()) - 10 * 60},  # replayed: older than Slack's 5 minutes
    ],
    ids=["wrong-secret", "garbage-signature", "stale-timestamp"],
)
async def test_forged_or_stale_requests_are_rejected(slack_harness, fake_slack: FakeSlack, forgery: dict) -> None:
    h = await slack_harness(ScriptedTranscriber([Segment(text="x", start=0, end=1)]), mode="http")
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    secret = forgery.pop("secret", SIGNING_SECRET)
    status, _ = await post_signed(h.events_url, fake_slack.event_callback(msg), secret, **forgery)
    assert status == 401
    command = fake_slack.slash_command("diarize on")
    status, _ = await post_signed(h.events_url, command, secret, form=True, **forgery)
    assert status == 401
    await h.core.wait_idle()
    assert fake_slack.bot_messages(CHANNEL) == [] and fake_slack.responses == []
    assert not (await h.core.channel_settings(Platform.slack, fake_slack.team_id, CHANNEL)).diarize


async def test_url_verification_and_health(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber([]), mode="http")
    status, text = await post_signed(h.events_url, {"type": "url_verification", "challenge": "abc123", "token": "t"},
                                     SIGNING_SECRET)
    assert status == 200 and "abc123" in text
    async with aiohttp.ClientSession() as s, s.get(h.events_url.replace("/slack/events", "/healthz")) as r:
        assert r.status == 200

