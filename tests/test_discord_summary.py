"""Summaries on Discord: after a note over the channel's threshold, and `/voxnote summarize`."""

from bot.models import ChannelSettings, Platform, Segment
from tests.fixtures.discord import ADMIN_PERMISSIONS, MEMBER_PERMISSIONS
from tests.fixtures.transcriber import ScriptedTranscriber

OGG = b"OggS\x00\x02" + bytes(500)
MEETING = [
    Segment(text="We decided to move the launch to Tuesday.", start=0, end=4, speaker_id="speaker_1"),
    Segment(text="Alice, can you update the status page by Monday?", start=4, end=9, speaker_id="speaker_2"),
    Segment(text="Sure, I'll do it tomorrow.", start=9, end=12, speaker_id="speaker_1"),
]


async def test_long_note_gets_a_summary_after_its_transcript(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(MEETING, delay=0))
    await h.store.set_settings(Platform.discord, fake_discord.guild_id, fake_discord.channel_id,
                               ChannelSettings(summary_threshold_s=6, diarize=True))
    note = await fake_discord.post_voice_message(OGG, duration=12)
    await h.transcribed(note)
    await h.core.wait_idle()
    summary = await fake_discord.wait_for(
        lambda: [m for m in fake_discord.bot_messages() if "Meeting summary" in m.get("content", "")])
    text = summary[0]["content"]
    assert "status page" in text and "Automatic extract" in text and len(text) <= 2000
    assert "Speaker 1" in text and "Speaker 2" in text  # speaking time per speaker
    # Under the threshold: no summary.
    await h.store.set_settings(Platform.discord, fake_discord.guild_id, fake_discord.channel_id,
                               ChannelSettings(summary_threshold_s=60))
    before = len(fake_discord.bot_messages())
    other = await fake_discord.post_voice_message(OGG)
    await h.transcribed(other)
    await h.core.wait_idle()
    assert not [m for m in fake_discord.bot_messages()[before:] if "Meeting summary" in m.get("content", "")]


async def test_summarize_command_covers_the_channel_so_far(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(MEETING, delay=0))
    for _ in range(2):
        note = await fake_discord.post_voice_message(OGG)
        await h.transcribed(note)
    await h.core.wait_idle()
    command = fake_discord.slash_command("summarize", permissions=MEMBER_PERMISSIONS)
    await fake_discord.interact(command)
    answers = await fake_discord.wait_for(lambda: [a for a in fake_discord.answers_to(command) if a["data"].get("content")])
    text = "\n".join(a["data"]["content"] for a in answers)
    assert "Meeting summary" in text and "status page" in text
    # A channel without transcripts says so.
    empty = fake_discord.slash_command("summarize", permissions=ADMIN_PERMISSIONS, channel_id=fake_discord.add_thread()["id"])
    await fake_discord.interact(empty)
    answers = await fake_discord.wait_for(lambda: [a for a in fake_discord.answers_to(empty) if a["data"].get("content")])
    assert "no transcript" in answers[0]["data"]["content"]
