"""One real voice message through the whole chain: discord.py against the fake Discord, the core,
and the embedded faster-whisper engine on the shipped Opus sample (a Discord voice message's format)."""

import jiwer
import pytest

from tests.fixtures.engine import load_speech_clip, normalize_text


@pytest.mark.slow
async def test_real_voice_message_is_transcribed_live_by_the_local_engine(discord_harness, fake_discord, local_engine):
    data, expected = load_speech_clip("voice-note")
    h = await discord_harness(local_engine, min_edit_interval=0.5)
    note = await fake_discord.post_voice_message(data, duration=17.3)
    reply = await h.transcribed(note, timeout=180)

    edits = [e.json["content"] for e in fake_discord.edits_of(reply["id"])]
    assert len(edits) >= 2 and edits[0].endswith(" …")  # text showed up before the end
    assert jiwer.wer(normalize_text(expected), normalize_text(reply["content"])) < 0.2
    assert fake_discord.downloads == [note["attachments"][0]["url"]]  # the bytes came from the CDN
