"""Bad input on Discord ends in one plain reply and nothing crashes: oversize or damaged audio, an
expired CDN link, the transcription service down, a note deleted before the bot answers."""

import pytest

from bot.errors import AudioTooLarge, CorruptAudio, TranscriptionRejected, TranscriptionUnavailable
from bot.models import AudioNote, Platform, Segment
from storage import JobStatus
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
    assert reply["content"].startswith(":warning:") and "too large" in reply["content"]
    assert fake_discord.downloads == [] and transcriber.requests == []


async def test_damaged_audio_gets_a_plain_reply(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, fail=CorruptAudio("the Ogg stream is truncated")))
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"] == ":warning: Couldn't transcribe this note: the Ogg stream is truncated."
    assert (await h.store.get_job(job_key(fake_discord, note))).status == JobStatus.failed


@pytest.mark.parametrize("streaming", [False, True], ids=["bytes", "streamed"])
async def test_expired_attachment_link_is_refreshed_by_fetching_the_message(discord_harness, fake_discord, streaming):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0, accepts_chunks=streaming)
    h = await discord_harness(transcriber)
    note = fake_discord.voice_message(OGG)
    fake_discord.expire_attachment(note["attachments"][0]["id"])
    await fake_discord.post_message(note)
    reply = await h.transcribed(note)
    assert reply["content"] == "Hello from a voice note."
    assert fake_discord.calls_to("GET", rf"/channels/{note['channel_id']}/messages/{note['id']}")
    assert len(fake_discord.downloads) == 2 and fake_discord.downloads[0] != fake_discord.downloads[1]
    assert transcriber.received == [OGG] if streaming else transcriber.requests[0].file == OGG


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


class UrlBlindTranscriber(ScriptedTranscriber):
    """Claims it can fetch URLs, then cannot reach Discord's CDN (as a firewalled service would)."""

    async def stream(self, request):
        if request.file_url is not None:
            self.requests.append(request)
            raise TranscriptionRejected("could not download file_url: 403", status=400)
        async for event in super().stream(request):
            yield event


async def test_url_the_service_cannot_fetch_falls_back_to_the_bytes(discord_harness, fake_discord):
    transcriber = UrlBlindTranscriber(SEGMENTS, delay=0, can_fetch_urls=True)
    h = await discord_harness(transcriber)
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"] == "Hello from a voice note."
    assert [r.file_url is not None for r in transcriber.requests] == [True, False]
    assert transcriber.requests[1].file == OGG


async def test_download_stops_at_the_size_cap_when_the_size_is_unknown(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    att = fake_discord.attachment(bytes(5000), "big.wav", "audio/wav")
    note = AudioNote(platform=Platform.discord, workspace_id=fake_discord.guild_id, channel_id=fake_discord.channel_id,
                     message_id="1", attachment_id=att["id"], filename="big.wav", public_url=att["url"])
    with pytest.raises(AudioTooLarge):
        await h.bot.platform.fetch_audio(note, max_bytes=1000)
    assert len(await h.bot.platform.fetch_audio(note, max_bytes=5000)) == 5000
