"""Summaries on Slack: the "Summarize thread" shortcut names the thread that `/voxnote` cannot."""

from __future__ import annotations

from bot.models import Segment
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="We agreed to ship the release on Friday.", start=0, end=3),
            Segment(text="I'll write the release notes tonight.", start=3, end=6)]


async def test_summarize_shortcut_covers_the_thread_of_the_message(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: any("Friday" in m["text"] for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    [reply] = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])

    # Used on the bot's own reply inside the thread: the thread is the note's.
    answer = await h.shortcut(fake_slack.message_shortcut(reply, callback_id="voxnote_summarize"))
    assert answer["response_type"] == "ephemeral"
    assert "ship the release on Friday" in answer["text"]
    assert "&amp;amp;" not in answer["text"]

    elsewhere = fake_slack.user_message(CHANNEL, text="unrelated")
    empty = await h.shortcut(fake_slack.message_shortcut(elsewhere, callback_id="voxnote_summarize"))
    assert "no transcript in this thread" in empty["text"]


async def test_long_note_gets_a_summary_in_its_thread(slack_harness, fake_slack: FakeSlack) -> None:
    from bot.models import ChannelSettings, Platform

    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    await h.store.set_settings(Platform.slack, fake_slack.team_id, CHANNEL, ChannelSettings(summary_threshold_s=5))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 2)
    await h.core.wait_idle()
    transcript, summary = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    assert "Friday" in transcript["text"]
    assert summary["text"].startswith("*Meeting summary*") and "release notes" in summary["text"]
    assert "Automatic extract" in summary["text"]
