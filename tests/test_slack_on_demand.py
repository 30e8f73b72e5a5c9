"""With auto-transcribe off, a :memo: reaction or the "Transcribe" message shortcut asks for a note."""

from __future__ import annotations

import pytest

from bot.models import Segment
from tests.fixtures.slack import FakeSlack, SlackHarness
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Transcribed on request.", start=0, end=1)]


async def _quiet_channel(slack_harness, fake: FakeSlack, mode: str = "socket") -> SlackHarness:
    fake.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.05), mode=mode)
    await h.command("auto off", user="U0ADMIN")
    return h


async def _transcribed(fake: FakeSlack, h: SlackHarness, thread_ts: str) -> None:
    await fake.wait_for(lambda: any(m["text"] == SEGMENTS[0].text for m in fake.bot_messages(CHANNEL, thread_ts)))
    await h.core.wait_idle()


def _key(fake: FakeSlack, msg: dict) -> str:
    return f"slack:{fake.team_id}:{CHANNEL}:{msg['ts']}:{msg['files'][0]['id']}"


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_memo_reaction_transcribes_a_note_the_channel_skipped(slack_harness, fake_slack: FakeSlack, mode: str) -> None:
    h = await _quiet_channel(slack_harness, fake_slack, mode)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    envelope = await h.deliver(fake_slack.event_callback(msg))
    if mode == "socket":
        await fake_slack.wait_ack(envelope)
    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added(CHANNEL, msg["ts"], reaction="thumbsup")))
    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added(CHANNEL, msg["ts"])))
    await _transcribed(fake_slack, h, msg["ts"])
    assert len(fake_slack.bot_messages(CHANNEL)) == 1
    job = await h.store.get_job(_key(fake_slack, msg))
    assert job is not None and job.on_demand  # queued by the reaction, not by the skipped message event
    # The message event left what the reaction needs: no rate-limited history call, before or after the ack.
    assert not fake_slack.calls_to("conversations.history") and not fake_slack.calls_to("conversations.replies")


async def test_memo_reaction_on_a_clip_inside_a_thread(slack_harness, fake_slack: FakeSlack) -> None:
    h = await _quiet_channel(slack_harness, fake_slack)
    parent = fake_slack.user_message(CHANNEL, text="standup")
    clip = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")], thread_ts=parent["ts"])
    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added(CHANNEL, clip["ts"])))
    await _transcribed(fake_slack, h, parent["ts"])  # the reply joins the existing thread
    assert fake_slack.calls_to("conversations.replies")


async def test_transcribe_shortcut_queues_the_note_and_says_so(slack_harness, fake_slack: FakeSlack) -> None:
    h = await _quiet_channel(slack_harness, fake_slack)
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    answer = await h.shortcut(fake_slack.message_shortcut(msg))
    assert answer["response_type"] == "ephemeral" and "Transcribing" in answer["text"]
    await _transcribed(fake_slack, h, msg["ts"])
    again = await h.shortcut(fake_slack.message_shortcut(msg))
    assert "already" in again["text"]
    await h.core.wait_idle()
    assert len(fake_slack.bot_messages(CHANNEL)) == 1


async def test_shortcut_in_http_mode_and_on_a_message_without_audio(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS), mode="http")
    plain = fake_slack.user_message(CHANNEL, text="no audio here")
    answer = await h.shortcut(fake_slack.message_shortcut(plain))
    assert answer["response_type"] == "ephemeral" and "no audio" in answer["text"]
    assert fake_slack.bot_messages(CHANNEL) == []


async def test_video_clip_is_transcribed_only_on_request(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.05))
    video = fake_slack.add_file(b"\x00\x00\x00\x18ftypmp42", name="clip.mp4", mimetype="video/mp4", filetype="mp4",
                                subtype="slack_video")
    msg = fake_slack.user_message(CHANNEL, [video])
    await h.deliver(fake_slack.event_callback(msg))
    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added(CHANNEL, msg["ts"])))
    await _transcribed(fake_slack, h, msg["ts"])
    job = await h.store.get_job(_key(fake_slack, msg))
    assert job is not None and job.on_demand
