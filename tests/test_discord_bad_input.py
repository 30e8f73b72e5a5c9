"""Bad input on Discord ends in one plain reply and nothing crashes: oversize or damaged audio, an
expired CDN link, the transcription service down, a note deleted before the bot answers."""

from bot.errors import CorruptAudio, TranscriptionUnavailable
from bot.models import Segment
from storage.store import JobStatus
from tests.fixtures.transcriber import ScriptedTranscriber

OGG = b"OggS\x00\x02" + bytes(2000)
SEGMENTS = [Segment(text="Hello from a voice note.", start=0, end=2)]


def job_key(fake, note):
    return f"discord:{fake.guild_id}:{note['channel_id']}:{note['id']}:{note['attachments'][0]['id']}"


async def test_oversize_note_is_refused_before_any_download(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber, max_audio_bytes=1000)
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"].startswith(":warning:") and "MB" in reply["content"]
    assert fake_discord.downloads == [] and transcriber.requests == []


async def test_damaged_audio_gets_a_plain_reply(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, fail=CorruptAudio("the Ogg stream is truncated")))
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"] == ":warning: Couldn't transcribe this note: the Ogg stream is truncated."
    assert (await h.store.get_job(job_key(fake_discord, note))).status == JobStatus.failed


async def test_expired_attachment_link_is_refreshed_by_fetching_the_message(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    note = fake_discord.voice_message(OGG)
    fake_discord.expire_attachment(note["attachments"][0]["id"])
    await fake_discord.post_message(note)
    reply = await h.transcribed(note)
    assert reply["content"] == "Hello from a voice note."
    assert fake_discord.calls_to("GET", rf"/channels/{note['channel_id']}/messages/{note['id']}")
    assert len(fake_discord.downloads) == 2 and fake_discord.downloads[0] != fake_discord.downloads[1]
    assert transcriber.requests[0].file == OGG


async def test_expired_link_of_a_deleted_note_says_so(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    fake_discord.fail_next("GET", r"/channels/\d+/messages/\d+", status=404, code=10008, message="Unknown Message")
    note = fake_discord.voice_message(OGG)
    fake_discord.expire_attachment(note["attachments"][0]["id"])
    await fake_discord.post_message(note)
    reply = await h.transcribed(note)
    assert reply["content"] == ":warning: Couldn't transcribe this note: the voice note was deleted."


async def test_transcription_service_down_is_reported_not_crashed(discord_harness, fake_discord):
    h = await discord_harness(
        ScriptedTranscriber(SEGMENTS, fail=TranscriptionUnavailable("connection refused")), max_attempts=1
    )
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"].startswith(":warning: Couldn't transcribe this note: connection refused")
    # The bot is still up: the next note is transcribed once the service is back.
    h.transcriber.fail = None
    again = await fake_discord.post_voice_message(OGG)
    assert (await h.transcribed(again))["content"] == "Hello from a voice note."


async def test_note_deleted_before_the_reply_is_dropped_quietly(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    note = fake_discord.voice_message(OGG)
    await fake_discord.dispatch("MESSAGE_CREATE", note)  # delivered, but already gone from the channel
    job = await h.job_finished(job_key(fake_discord, note))
    assert job.status == JobStatus.failed and "deleted" in job.error
    assert fake_discord.bot_messages() == [] and transcriber.requests == []
