"""The `/voxnote` slash-command group and the "Transcribe" message command.

Each subcommand only turns its options into the text the shared command core parses
(`/voxnote language en` -> `"language en"`); the core decides what happens and what to answer.
Answers are ephemeral: settings chatter should not fill the channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord_.consent import enrol_from
from adapters.discord_.languages import matching
from adapters.discord_.notes import DM_WORKSPACE, audio_notes
from bot.commands import CommandContext
from bot.models import Platform
from bot.render import split_message

if TYPE_CHECKING:
    from adapters.discord_.platform import DiscordPlatform
    from bot.core import Voxnote

log = logging.getLogger(__name__)

#: Discord drops an interaction not answered within 3 s; past this, defer and follow up.
DEFER_AFTER_SECONDS = 2.0
OnOff = Literal["on", "off"]


def is_admin(interaction: discord.Interaction) -> bool:
    """Manage Channels (or Administrator) in the channel; in a DM with the bot, the user's own."""
    if interaction.guild_id is None:
        return True
    perms = interaction.permissions
    return perms.administrator or perms.manage_channels


def command_context(interaction: discord.Interaction) -> CommandContext:
    return CommandContext(
        platform=Platform.discord,
        workspace_id=str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE,
        channel_id=str(interaction.channel_id),
        user_id=str(interaction.user.id),
        is_admin=is_admin(interaction),
    )


async def answer(interaction: discord.Interaction, work: Awaitable[str]) -> None:
    """Reply ephemerally with what `work` returns; defer first when it is slow to come."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER_SECONDS)
    if not done:
        await interaction.response.defer(ephemeral=True, thinking=True)
    chunks = split_message(await task, 2000)
    if done:
        await interaction.response.send_message(chunks[0], ephemeral=True)
        chunks = chunks[1:]
    for chunk in chunks:
        await interaction.followup.send(chunk, ephemeral=True)


def build_commands(core: Voxnote, platform: DiscordPlatform) -> list[app_commands.Group | app_commands.ContextMenu]:
    """The commands to add to the client's `CommandTree`."""

    async def run(interaction: discord.Interaction, text: str) -> None:
        await answer(interaction, core.run_command(command_context(interaction), text))

    group = app_commands.Group(name="voxnote", description="Voice-note transcription in this channel")

    @group.command(name="language", description="Language of the voice notes here, or auto-detect")
    @app_commands.describe(code="an ISO 639-1 code such as en; several (en fr) to detect among them; or auto")
    async def language(interaction: discord.Interaction, code: str) -> None:
        await run(interaction, f"language {code}")

    @language.autocomplete("code")
    async def language_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return matching(current)

    @group.command(name="bias", description="Names and jargon the transcription should favour")
    @app_commands.describe(action="what to do with the list", phrases="comma-separated phrases (for add/remove)")
    async def bias(
        interaction: discord.Interaction,
        action: Literal["add", "remove", "list", "clear"],
        phrases: str = "",
    ) -> None:
        await run(interaction, f"bias {action} {phrases}".strip())

    @group.command(name="diarize", description="Label who speaks when a note has several speakers")
    async def diarize(interaction: discord.Interaction, state: OnOff) -> None:
        await run(interaction, f"diarize {state}")

    @group.command(name="timestamps", description="Show when each part of a note was said")
    async def timestamps(interaction: discord.Interaction, state: OnOff) -> None:
        await run(interaction, f"timestamps {state}")

    @group.command(name="translate", description="Add an English translation under notes in other languages")
    async def translate(interaction: discord.Interaction, state: OnOff) -> None:
        await run(interaction, f"translate {state}")

    @group.command(name="auto", description="Transcribe every voice note here, or only on request")
    async def auto(interaction: discord.Interaction, state: OnOff) -> None:
        await run(interaction, f"auto {state}")

    @group.command(name="summary", description="Summarise notes longer than this many minutes")
    @app_commands.describe(minutes="a number of minutes, or off")
    async def summary(interaction: discord.Interaction, minutes: str) -> None:
        await run(interaction, f"summary {minutes}")

    @group.command(name="summarize", description="Summarise every transcript in this thread or channel so far")
    async def summarize(interaction: discord.Interaction) -> None:
        await run(interaction, "summarize")

    @group.command(name="search",
                   description="Find this channel's notes that say these words (only you see the answer)")
    @app_commands.describe(words="words the note says, e.g. budget review")
    async def search(interaction: discord.Interaction, words: str) -> None:
        await run(interaction, f"search {words}")

    @group.command(name="settings", description="Show this channel's voxnote settings")
    async def settings(interaction: discord.Interaction) -> None:
        await run(interaction, "settings")

    @group.command(name="reset", description="Reset this channel's settings to the defaults")
    async def reset(interaction: discord.Interaction) -> None:
        await run(interaction, "reset")

    @group.command(name="speaker", description="Enrolled voices that name speakers in transcripts here")
    @app_commands.describe(action="list them, or remove one", name="the name to remove")
    async def speaker(interaction: discord.Interaction, action: Literal["list", "remove"], name: str = "") -> None:
        await run(interaction, f"speaker {action} {name}".strip())

    @group.command(name="forget", description="Delete this channel's transcripts and the voices enrolled from it")
    async def forget(interaction: discord.Interaction) -> None:
        await run(interaction, "forget")

    @group.command(name="help", description="What voxnote does and how to set it up")
    async def help_(interaction: discord.Interaction) -> None:
        await run(interaction, "help")

    @app_commands.context_menu(name="Transcribe")
    async def transcribe(interaction: discord.Interaction, message: discord.Message) -> None:
        await answer(interaction, _transcribe_on_demand(core, platform, message))

    @app_commands.context_menu(name="Enrol this voice")
    async def enrol(interaction: discord.Interaction, message: discord.Message) -> None:
        await answer(interaction, enrol_from(core, platform, interaction, message, is_admin=is_admin(interaction)))

    return [group, transcribe, enrol]


async def _transcribe_on_demand(core: Voxnote, platform: DiscordPlatform, message: discord.Message) -> str:
    notes = audio_notes(message)
    if not notes:
        return "That message has no audio attachment to transcribe."
    queued = [await core.submit(note, platform, on_demand=True) for note in notes]
    if any(queued):
        return "Transcribing: the transcript will appear as a reply to the note."
    return "That note is already transcribed (or on its way)."
