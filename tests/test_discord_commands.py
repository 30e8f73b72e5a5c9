"""`/voxnote` and the "Transcribe" message command on Discord: options become the shared command text,
answers are ephemeral, Manage Channels gates changes, on-demand transcription works."""

import asyncio

from adapters.discord_ import commands as discord_commands
from bot.models import Platform, Segment
from tests.fixtures.discord import ADMIN_PERMISSIONS, EPHEMERAL, MEMBER_PERMISSIONS
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

OGG = b"OggS\x00\x02" + bytes(500)
SEGMENTS = [Segment(text="Ship it on Friday.", start=0, end=2)]


async def ask(fake, payload):
    """Send an interaction and return the text of the bot's answer (all parts joined)."""
    await fake.interact(payload)
    answers = await fake.wait_for(lambda: [a for a in fake.answers_to(payload) if a["data"].get("content")])
    return "\n".join(a["data"]["content"] for a in answers)


async def channel_settings(h, fake, channel_id=None):
    return await h.core.channel_settings(Platform.discord, fake.guild_id, channel_id or fake.channel_id)


@on_both_backends
async def test_admin_sets_the_language_and_the_next_note_uses_it(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    command = fake_discord.slash_command("language", {"code": "fr"}, permissions=ADMIN_PERMISSIONS)
    assert await ask(fake_discord, command) == "Language set to fr."
    [callback] = fake_discord.answers_to(command)
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    note = await fake_discord.post_voice_message(OGG)
    await h.transcribed(note)
    assert transcriber.requests[0].language == "fr"


async def test_member_without_manage_channels_gets_an_ephemeral_refusal(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    command = fake_discord.slash_command("auto", {"state": "off"}, permissions=MEMBER_PERMISSIONS)
    text = await ask(fake_discord, command)
    assert text.startswith(":warning:") and "admin" in text
    assert fake_discord.answers_to(command)[0]["data"]["flags"] & EPHEMERAL
    assert (await channel_settings(h, fake_discord)).auto_transcribe is True
    # Reading the settings needs no permission.
    shown = await ask(fake_discord, fake_discord.slash_command("settings", permissions=MEMBER_PERMISSIONS))
    assert "language: auto" in shown and "auto-transcribe: on" in shown


async def test_options_become_the_shared_command_text(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    admin = dict(permissions=ADMIN_PERMISSIONS)
    await ask(fake_discord, fake_discord.slash_command("bias", {"action": "add", "phrases": "Kubernetes, Voxtral"}, **admin))
    await ask(fake_discord, fake_discord.slash_command("diarize", {"state": "on"}, **admin))
    await ask(fake_discord, fake_discord.slash_command("timestamps", {"state": "on"}, **admin))
    assert "Voxtral" in await ask(fake_discord, fake_discord.slash_command("bias", {"action": "list"}))
    settings = await channel_settings(h, fake_discord)
    assert settings.context_bias == ["Kubernetes", "Voxtral"] and settings.diarize and settings.timestamps
    assert "/voxnote language" in await ask(fake_discord, fake_discord.slash_command("help"))


async def test_language_autocomplete_offers_matching_codes(discord_harness, fake_discord):
    await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    typing = fake_discord.slash_command("language", {"code": "fre"}, focused="code")
    await fake_discord.interact(typing)
    [answer] = await fake_discord.wait_for(lambda: fake_discord.answers_to(typing))
    assert answer["type"] == 8
    assert answer["data"]["choices"][0] == {"name": "French (fr)", "value": "fr"}

    # Candidates: the word being typed is completed, the ones before it are kept.
    typing = fake_discord.slash_command("language", {"code": "en spa"}, focused="code")
    await fake_discord.interact(typing)
    [answer] = await fake_discord.wait_for(lambda: fake_discord.answers_to(typing))
    assert answer["data"]["choices"][0] == {"name": "en Spanish (es)", "value": "en es"}
    typing = fake_discord.slash_command("language", {"code": "en "}, focused="code")
    await fake_discord.interact(typing)
    [answer] = await fake_discord.wait_for(lambda: fake_discord.answers_to(typing))
    values = [c["value"] for c in answer["data"]["choices"]]
    assert values[0] == "en es" and "en en" not in values and "en auto" not in values


async def test_transcribe_command_works_where_auto_transcribe_is_off(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    await ask(fake_discord, fake_discord.slash_command("auto", {"state": "off"}, permissions=ADMIN_PERMISSIONS))
    note = await fake_discord.post_voice_message(OGG)
    click = fake_discord.context_menu(note)
    assert "Transcribing" in await ask(fake_discord, click)
    assert fake_discord.answers_to(click)[0]["data"]["flags"] & EPHEMERAL
    reply = await h.transcribed(note)
    assert reply["content"] == "Ship it on Friday."
    # Only the request made it happen: the note alone had been left alone.
    assert len(fake_discord.replies_to(note["id"])) == 1
    again = fake_discord.context_menu(note)
    assert "already" in await ask(fake_discord, again)


async def test_memo_reaction_transcribes_on_request(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    await ask(fake_discord, fake_discord.slash_command("auto", {"state": "off"}, permissions=ADMIN_PERMISSIONS))
    note = await fake_discord.post_voice_message(OGG)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", fake_discord.reaction(note, "\N{THUMBS UP SIGN}"))
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", fake_discord.reaction(note))
    reply = await h.transcribed(note)
    assert reply["content"] == "Ship it on Friday."


async def test_transcribe_on_a_message_without_audio(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    text = await fake_discord.post_message(fake_discord.message(content="just words"))
    assert "no audio" in await ask(fake_discord, fake_discord.context_menu(text))
    await h.core.wait_idle()
    assert fake_discord.replies_to(text["id"]) == []


async def test_slow_command_is_deferred_then_answered_in_a_followup(discord_harness, fake_discord, monkeypatch):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    monkeypatch.setattr(discord_commands, "DEFER_AFTER_SECONDS", 0.05)
    run_command = h.core.run_command

    async def slow(ctx, text):
        await asyncio.sleep(0.3)
        return await run_command(ctx, text)

    monkeypatch.setattr(h.core, "run_command", slow)
    command = fake_discord.slash_command("settings")
    assert "language: auto" in await ask(fake_discord, command)
    defer, followup = fake_discord.answers_to(command)
    assert defer["type"] == 5 and defer["data"]["flags"] & EPHEMERAL
    assert followup["kind"] == "followup" and followup["data"]["flags"] & EPHEMERAL


async def test_commands_in_a_dm_need_no_permission(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    dm = fake_discord.add_dm_channel()
    command = fake_discord.slash_command("language", {"code": "de"}, channel_id=dm["id"])
    assert await ask(fake_discord, command) == "Language set to de."
    settings = await h.core.channel_settings(Platform.discord, "dm", dm["id"])
    assert settings.language == "de"


async def test_failing_command_gets_a_plain_ephemeral_answer(discord_harness, fake_discord, monkeypatch):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))

    async def broken(ctx, text):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(h.core, "run_command", broken)
    command = fake_discord.slash_command("settings")
    assert await ask(fake_discord, command) == ":warning: Something went wrong; please try again."
    assert fake_discord.answers_to(command)[0]["data"]["flags"] & EPHEMERAL
