"""A long recording's reply says how far recognition has got ("⏳ 2:10 of 14:32") until the final text
replaces it: through slack-bolt and the fake Slack, with the platform's real pacing."""

from __future__ import annotations

from bot.models import Segment
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"


async def test_a_four_minute_note_shows_its_progress_then_its_transcript(slack_harness, fake_slack: FakeSlack) -> None:
    segments = [Segment(text=f"Part {i}.", start=i * 30.0, end=i * 30.0 + 29) for i in range(8)]
    h = await slack_harness(ScriptedTranscriber(segments, delay=0.45))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS", name="meeting.ogg", duration_ms=240_000)])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: fake_slack.bot_messages(CHANNEL))
    await h.core.wait_idle(timeout=30)

    reply = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])[0]  # then the summary of a long note
    updates = [u.args["text"] for u in fake_slack.updates_of(reply["ts"])]
    progress = [u for u in updates if "⏳" in u]
    assert progress and all(" of 4:00" in u for u in progress)
    assert progress[0] != progress[-1]  # it moved
    assert "⏳" not in reply["text"] and reply["text"].startswith("Part 0.")
