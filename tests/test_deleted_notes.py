"""A person deletes their voice note: the bot forgets its transcript (a summary no longer quotes it) and
deletes its own reply. Deleting only the bot's reply keeps the transcript. Real slack-bolt and discord.py
against the fakes."""

from __future__ import annotations

from bot.models import Platform, Segment
from tests.fixtures.discord import FakeDiscord
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Please forget this one.", start=0, end=1)]
OGG = b"OggS\x00\x02" + bytes(2000)


async def _slack_note(h, fake: FakeSlack):
    msg = fake.user_message(CHANNEL, [fake.add_file(OGG)])
    await h.deliver(fake.event_callback(msg))
    await fake.wait_for(lambda: any(m["text"] == SEGMENTS[0].text and m.get("thread_ts") == msg["ts"]
                                    for m in fake.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    return msg, f"slack:{fake.team_id}:{CHANNEL}:{msg['ts']}:{msg['files'][0]['id']}"


@on_both_backends
async def test_slack_deleted_note_takes_its_transcript_and_reply(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    msg, key = await _slack_note(h, fake_slack)
    await h.deliver(fake_slack.event_callback(fake_slack.user_deletes(msg)))
    await fake_slack.wait_for(lambda: not fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"]))
    assert await h.store.get_transcript(key) is None
    assert not await h.store.thread_transcripts(Platform.slack, fake_slack.team_id, CHANNEL, None)


async def test_slack_deleting_the_bots_reply_keeps_the_transcript(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    msg, key = await _slack_note(h, fake_slack)
    [reply] = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    event = fake_slack.user_deletes(reply)  # an admin removed the bot's message
    envelope = await h.deliver(fake_slack.event_callback(event))
    await fake_slack.wait_ack(envelope)
    assert (await h.store.get_transcript(key)).text == SEGMENTS[0].text


@on_both_backends
async def test_discord_deleted_note_takes_its_transcript_and_reply(discord_harness, fake_discord: FakeDiscord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    other = await fake_discord.post_voice_message(OGG)
    other_reply = await h.transcribed(other)
    await fake_discord.user_deletes(note["id"])
    await fake_discord.wait_for(lambda: reply["id"] not in fake_discord.messages)
    assert other_reply["id"] in fake_discord.messages
    stored = await h.store.thread_transcripts(Platform.discord, fake_discord.guild_id, note["channel_id"], None)
    assert [s.message_id for s in stored] == [other["id"]]
    # Several at once (a moderator's bulk delete).
    third = await fake_discord.post_voice_message(OGG)
    third_reply = await h.transcribed(third)
    await fake_discord.user_deletes(other["id"], third["id"])
    await fake_discord.wait_for(lambda: other_reply["id"] not in fake_discord.messages
                                and third_reply["id"] not in fake_discord.messages)
    assert not await h.store.thread_transcripts(Platform.discord, fake_discord.guild_id, note["channel_id"], None)
