"""Connecting to Discord: command sync (guild or global), the intents asked for, a refused MESSAGE
CONTENT intent named plainly in the log, a bad token, and the invite URL."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.discord_ import invite_url
from adapters.discord_.client import MISSING_INTENT
from bot.errors import VoxnoteError
from bot.models import Segment
from tests.fixtures.discord import (
    ATTACH_FILES,
    CREATE_PUBLIC_THREADS,
    MESSAGE_CONTENT_INTENT,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
)
from tests.fixtures.transcriber import ScriptedTranscriber

SEGMENTS = [Segment(text="Hello.", start=0, end=1)]
SUBCOMMANDS = {"language", "bias", "diarize", "timestamps", "translate", "auto", "summary", "summarize", "settings",
               "reset", "forget", "search", "speaker", "help"}


async def test_commands_sync_to_the_development_guild(discord_harness, fake_discord):
    await discord_harness(ScriptedTranscriber(SEGMENTS), discord_guild_id=int(fake_discord.guild_id))
    assert set(fake_discord.commands) == {fake_discord.guild_id}
    by_name = {c["name"]: c for c in fake_discord.commands[fake_discord.guild_id]}
    assert by_name["Transcribe"]["type"] == 3
    group = by_name["voxnote"]
    assert {o["name"] for o in group["options"]} == SUBCOMMANDS
    subs = {o["name"]: o for o in group["options"]}
    [code] = subs["language"]["options"]
    assert code["autocomplete"] is True and code["required"] is True
    [state] = subs["diarize"]["options"]
    assert [c["value"] for c in state["choices"]] == ["on", "off"]


async def test_commands_sync_globally_without_a_guild(discord_harness, fake_discord):
    await discord_harness(ScriptedTranscriber(SEGMENTS))
    assert set(fake_discord.commands) == {None}
    assert fake_discord.calls_to("PUT", rf"/applications/{fake_discord.app_id}/commands")


async def test_bot_asks_only_for_the_intents_it_needs(discord_harness, fake_discord):
    await discord_harness(ScriptedTranscriber(SEGMENTS))
    # guilds, guild messages, guild reactions, DMs, DM reactions, message content
    assert fake_discord.identifies[0]["intents"] == (1 << 0) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 13) | (1 << 15)


async def test_missing_message_content_intent_is_logged_and_the_bot_keeps_going(
    discord_harness, fake_discord, caplog
):
    fake_discord.message_content_intent = False
    caplog.set_level(logging.ERROR, logger="adapters.discord_")
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    assert MISSING_INTENT in caplog.text
    first, second = fake_discord.identifies
    assert first["intents"] & MESSAGE_CONTENT_INTENT and not second["intents"] & MESSAGE_CONTENT_INTENT
    # Guild notes arrive without attachments now; DMs and the Transcribe command still work.
    unseen = await fake_discord.post_voice_message(b"OggS" + bytes(100))
    dm = fake_discord.add_dm_channel()
    note = await fake_discord.post_voice_message(b"OggS" + bytes(100), channel_id=dm["id"])
    assert (await h.transcribed(note))["content"] == "Hello."
    assert fake_discord.replies_to(unseen["id"]) == []
    await fake_discord.interact(fake_discord.context_menu(unseen))
    assert (await h.transcribed(unseen))["content"] == "Hello."


async def test_bad_token_is_a_plain_error(discord_harness, fake_discord):
    with pytest.raises(VoxnoteError, match="rejected DISCORD_TOKEN"):
        await discord_harness(ScriptedTranscriber(SEGMENTS), discord_token="not-the-token")


def test_invite_url_asks_for_exactly_the_scopes_and_permissions_needed():
    url = urlsplit(invite_url("123456789012345678"))
    query = parse_qs(url.query)
    assert url.path == "/oauth2/authorize"
    assert query["client_id"] == ["123456789012345678"]
    assert query["scope"] == ["bot applications.commands"]
    wanted = VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | CREATE_PUBLIC_THREADS | ATTACH_FILES
    assert int(query["permissions"][0]) == wanted | READ_MESSAGE_HISTORY


async def test_no_voice_support_warning_for_a_bot_that_never_joins_voice(discord_harness, fake_discord, caplog,
                                                                          monkeypatch):
    import discord

    # As in a fresh process without PyNaCl and davey (discord.py warns once per process).
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    caplog.set_level(logging.WARNING, logger="discord")
    await discord_harness(ScriptedTranscriber(SEGMENTS))
    assert "voice will NOT be supported" not in caplog.text
    assert fake_discord.identifies  # the bot did connect


@pytest.mark.parametrize("client_id", ["my-bot", "12345abc", "", "１２３"])
def test_a_non_numeric_client_id_is_one_plain_line(client_id):
    import subprocess
    import sys
    from pathlib import Path

    voxnote = Path(sys.executable).with_name("voxnote")  # the real console script
    result = subprocess.run([str(voxnote), "discord-invite", "--", client_id], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: CLIENT_ID must be the application's numeric id")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
