"""A voice note posted on Slack gets a live transcript in its thread, in Socket Mode and HTTP mode,
through the real slack-bolt/slack_sdk and the fake Slack."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import Segment
from tests.fixtures.slack import FakeSlack, Limit, SlackHarness
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text=f"Sentence number {i} of the note.", start=i, end=i + 1.0) for i in range(5)]
FINAL = " ".join(s.text for s in SEGMENTS)
TOLERANCE = 0.05


@on_both_backends
@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_voice_note_streams_into_a_reply_in_its_thread(slack_harness, fake_slack: FakeSlack, mode: str) -> None:
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0.6)
    h: SlackHarness = await slack_harness(transcriber, mode=mode)
    clip = fake_slack.add_file(b"OggS-voice-note", duration_ms=5000)
    msg = fake_slack.user_message(CHANNEL, [clip])

    envelope = await h.deliver(fake_slack.event_callback(msg))
    if mode == "socket":
        await fake_slack.wait_ack(envelope)
    await fake_slack.wait_for(lambda: any(m["text"] == FINAL for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()

    [reply] = fake_slack.bot_messages(CHANNEL)
    assert reply["thread_ts"] == msg["ts"]  # the placeholder went into the note's thread
    [post] = fake_slack.calls_to("chat.postMessage")
    assert "Transcribing" in post.args["text"]
    updates = fake_slack.updates_of(reply["ts"])
    partials = [u.args["text"] for u in updates[:-1]]
    assert partials and all(p.endswith("…") for p in partials)  # at least one intermediate update
    assert updates[-1].args["text"] == FINAL
    # Partials of one message are paced; the first text and the final wait for nothing but Slack's budget.
    partial_at = [u.at for u in updates[:-1]]
    assert all(b - a >= h.bot.platform.min_edit_interval - TOLERANCE for a, b in zip(partial_at, partial_at[1:]))
    # The bytes came from Slack with the bot token and went to the transcriber as a file.
    assert fake_slack.downloads == [(clip.id, True)]
    assert transcriber.requests[0].file == clip.data
    assert transcriber.requests[0].file_url is None


async def test_bots_edits_and_deletions_get_no_reply(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS[:1], delay=0))
    clip = fake_slack.add_file(b"OggS")
    bot_post = fake_slack.user_message(CHANNEL, [clip], bot_id="B0OTHER")
    edited = {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "ts": fake_slack.next_ts(),
              "message": {**fake_slack.user_message(CHANNEL, [clip]), "edited": {"ts": "1"}}}
    deleted = {"type": "message", "subtype": "message_deleted", "channel": CHANNEL, "ts": fake_slack.next_ts(),
               "deleted_ts": "1.000001", "previous_message": fake_slack.user_message(CHANNEL, [clip])}
    for event in (bot_post, edited, deleted):
        await h.deliver(fake_slack.event_callback(event))
    # A real note afterwards: once it is answered, the ignored ones would have been too.
    real = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS-2")])
    await h.deliver(fake_slack.event_callback(real))
    await fake_slack.wait_for(lambda: any(m["text"] == SEGMENTS[0].text for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    assert [m["thread_ts"] for m in fake_slack.bot_messages(CHANNEL)] == [real["ts"]]


async def test_reply_posted_before_a_crash_is_found_not_posted_again(slack_harness, fake_slack: FakeSlack) -> None:
    """A crash between chat.postMessage and storing the reply's ts: the next run finds the reply by its
    metadata and edits it."""
    from bot.models import AudioNote, Platform

    # Two look-ups back to back: a Marketplace app's replies budget (here 30/min), not 1 per minute.
    fake_slack.limits["conversations.replies"] = Limit(per_minute=30, burst=1)
    h = await slack_harness(ScriptedTranscriber([Segment(text="Found again.", start=0, end=1)], delay=0),
                            slack_history_per_minute=30)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    note = AudioNote(platform=Platform.slack, workspace_id=fake_slack.team_id, channel_id=CHANNEL,
                     message_id=msg["ts"], thread_id=msg["ts"], attachment_id=msg["files"][0]["id"],
                     filename="audio_message.webm")
    platform = h.core.platforms[Platform.slack]
    posted = await platform.post_reply(note, "placeholder from the run that crashed")
    found = await platform.find_reply(note)
    assert found is not None and found.message_id == posted.message_id
    other = note.model_copy(update={"attachment_id": "F-other"})
    while not platform.pacing.replies.has_capacity():  # one look-up per 2 s at this budget
        await asyncio.sleep(0.1)
    assert await platform.find_reply(other) is None


async def test_a_reply_lost_in_a_busy_thread_is_found_not_posted_twice(slack_harness, fake_slack: FakeSlack) -> None:
    """A note deep in a busy thread; the run that posted its reply crashed before storing the reply's ts.
    conversations.replies gives 15 messages a call: the next run must still find the reply."""
    h = await slack_harness(ScriptedTranscriber([Segment(text="Found in the crowd.", start=0, end=1)], delay=0))
    root = fake_slack.user_message(CHANNEL, text="planning thread")
    for i in range(30):
        fake_slack.user_message(CHANNEL, text=f"reply {i}", thread_ts=root["ts"])
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")], thread_ts=root["ts"])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: any(m["text"] == "Found in the crowd." for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    for i in range(20):
        fake_slack.user_message(CHANNEL, text=f"later {i}", thread_ts=root["ts"])
    key = f"slack:{fake_slack.team_id}:{CHANNEL}:{msg['ts']}:{msg['files'][0]['id']}"
    # The crash: the reply exists in Slack, but the store only knows a reply was being posted.
    await h.store._db.execute(
        "UPDATE jobs SET reply_ref=NULL, reply_pending=1, status='queued', next_attempt_at=0 WHERE key=?", (key,))
    await h.store._db.execute("DELETE FROM transcripts WHERE job_key=?", (key,))
    h.core._wake.set()
    await fake_slack.wait_for(lambda: h.core._running_tasks, timeout=5)
    await h.core.wait_idle()
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=root["ts"])) == 1
    assert all(int(c.args.get("limit", 15)) <= 15 for c in fake_slack.calls_to("conversations.replies"))


async def test_a_burst_of_notes_in_one_channel_draws_no_429(slack_harness, fake_slack: FakeSlack) -> None:
    """Eight clips at once: eight placeholders exceed chat.postMessage's per-channel burst. The fake
    refuses beyond Slack's limits (the harness fails on any 429): the bot must wait its turn."""
    h = await slack_harness(ScriptedTranscriber([Segment(text="One of many.", start=0, end=1)], delay=0),
                            jobs_concurrency=4, jobs_per_workspace=4)
    msgs = [fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")]) for _ in range(8)]
    for msg in msgs:
        await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: all(
        [m["text"] for m in fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])] == ["One of many."] for msg in msgs
    ), timeout=30)
    await h.core.wait_idle()
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 8 and posts[-1].at - posts[0].at >= 4  # paced, about one a second after a burst
