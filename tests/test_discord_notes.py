"""Which Discord messages are audio notes: real `discord.Message` objects parsed from the fake's
payloads, checked against the detection rules."""

import discord
import pytest

from adapters.discord_.notes import audio_notes, is_audio
from bot.models import Platform
from tests.fixtures.discord import IS_VOICE_MESSAGE, FakeDiscord


@pytest.fixture
def fake():
    return FakeDiscord()  # used for its payload builders only: no server is started


@pytest.fixture
def state():
    return discord.Client(intents=discord.Intents.none())._connection


def parse(state, payload):
    channel = discord.PartialMessageable(
        state=state, id=int(payload["channel_id"]), guild_id=int(payload["guild_id"]) if "guild_id" in payload else None
    )
    return discord.Message(state=state, channel=channel, data=payload)


def test_voice_message_becomes_one_note_with_its_metadata(fake, state):
    payload = fake.voice_message(b"OggS" + bytes(10), duration=3.25)
    [note] = audio_notes(parse(state, payload))
    att = payload["attachments"][0]
    assert note.platform is Platform.discord
    assert (note.workspace_id, note.channel_id, note.message_id) == (fake.guild_id, fake.channel_id, payload["id"])
    assert note.thread_id is None and note.author_id == fake.alice["id"]
    assert (note.attachment_id, note.filename, note.mime_type) == (att["id"], "voice-message.ogg", "audio/ogg")
    assert (note.size, note.duration, note.public_url) == (14, 3.25, att["url"])


def test_voice_flag_wins_over_odd_attachment_metadata(fake, state):
    att = fake.attachment(b"x" * 5, "voice-message", None)
    [note] = audio_notes(parse(state, fake.message(attachments=[att], flags=IS_VOICE_MESSAGE)))
    assert note.attachment_id == att["id"] and note.mime_type is None


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("a.mp3", "audio/mpeg", True),
        ("a.M4A", None, True),
        ("a.wav", "audio/x-wav", True),
        ("a.oga", None, True),
        ("a.opus", "application/octet-stream", True),
        ("a.webm", "video/webm", True),
        ("a.flac", None, True),
        ("recording", "audio/aac", True),
        ("a.ogg", "audio/ogg; codecs=opus", True),
        ("a.mp4", "video/mp4", False),
        ("a.png", "image/png", False),
        ("a.txt", "text/plain; charset=utf-8", False),
    ],
)
def test_audio_by_content_type_or_extension(fake, state, filename, content_type, expected):
    msg = parse(state, fake.audio_message(b"data", filename, content_type))
    assert is_audio(msg.attachments[0]) is expected
    assert len(audio_notes(msg)) == int(expected)


def test_each_audio_attachment_is_its_own_note(fake, state):
    atts = [fake.attachment(b"1", "one.mp3", "audio/mpeg"), fake.attachment(b"2", "pic.jpg", "image/jpeg"),
            fake.attachment(b"3", "two.wav", "audio/wav")]
    notes = audio_notes(parse(state, fake.message(attachments=atts)))
    assert [n.filename for n in notes] == ["one.mp3", "two.wav"]
    assert len({n.idempotency_key for n in notes}) == 2


def test_dm_notes_live_in_the_dm_workspace(fake, state):
    dm = fake.add_dm_channel()
    [note] = audio_notes(parse(state, fake.voice_message(b"OggS", channel_id=dm["id"])))
    assert (note.workspace_id, note.channel_id) == ("dm", dm["id"])


def test_thread_notes_keep_the_thread_as_their_channel(fake, state):
    thread = fake.add_thread()
    [note] = audio_notes(parse(state, fake.voice_message(b"OggS", channel_id=thread["id"])))
    assert (note.workspace_id, note.channel_id, note.thread_id) == (fake.guild_id, thread["id"], None)


def test_system_messages_are_not_notes(fake, state):
    payload = fake.voice_message(b"OggS") | {"type": 7}  # member join
    assert audio_notes(parse(state, payload)) == []
