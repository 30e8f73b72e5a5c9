"""A transcript over Slack's message size continues in further thread replies and is attached whole."""

from __future__ import annotations

from adapters.slack.platform import MAX_MESSAGE_CHARS
from bot.models import Segment
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SENTENCE = "This is a fairly long sentence from a rambling voice note that goes on and on about the plan. "


async def test_long_transcript_continues_in_the_thread_with_the_file_attached(slack_harness, fake_slack: FakeSlack) -> None:
    segments = [Segment(text=f"{i}. {SENTENCE}".strip(), start=i, end=i + 1) for i in range(80)]
    h = await slack_harness(ScriptedTranscriber(segments, delay=0))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS", duration_ms=80_000)])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: len(fake_slack.uploads) == 2)
    await h.core.wait_idle()

    replies = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    assert len(replies) >= 2  # the live reply, then continuations in the same thread
    assert all(len(m["text"]) <= MAX_MESSAGE_CHARS for m in replies)
    assert replies[0]["text"].startswith("0. This is")
    assert replies[-1]["text"].rstrip().endswith("about the plan.")
    names = sorted(u.filename for u in fake_slack.uploads)
    assert names == ["transcript.srt", "transcript.txt"]
    txt = next(u for u in fake_slack.uploads if u.filename == "transcript.txt")
    assert txt.thread_ts == msg["ts"] and txt.channel_id == CHANNEL
    assert txt.data.decode().count("about the plan.") == 80
