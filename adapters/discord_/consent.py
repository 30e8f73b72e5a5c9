"""Discord's side of enrolling a voice: the "Enrol this voice" message command (admins) and the consent
request with two buttons that only the person whose voice it is may use (checked on `interaction.user.id`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from adapters.discord_.notes import DM_WORKSPACE, audio_notes
from bot.commands import CommandContext
from bot.errors import CommandError, NotAllowed, VoxnoteError
from bot.models import Platform
from bot.speakers import CONSENT_TTL_S

if TYPE_CHECKING:
    from adapters.discord_.platform import DiscordPlatform
    from bot.core import Voxnote

log = logging.getLogger(__name__)


class ConsentView(discord.ui.View):
    """"Yes, use my voice" / "No" under the request; clicks by anyone but the person are refused."""

    def __init__(self, core: Voxnote, request_id: str) -> None:
        super().__init__(timeout=CONSENT_TTL_S)
        self.core = core
        self.request_id = request_id
        yes: discord.ui.Button[ConsentView] = discord.ui.Button(label="Yes, use my voice", style=discord.ButtonStyle.success,
                                custom_id=f"voxnote_consent:yes:{request_id}")
        no: discord.ui.Button[ConsentView] = discord.ui.Button(label="No", style=discord.ButtonStyle.secondary,
                               custom_id=f"voxnote_consent:no:{request_id}")
        yes.callback = self._yes  # type: ignore[method-assign]
        no.callback = self._no  # type: ignore[method-assign]
        self.add_item(yes)
        self.add_item(no)

    async def _yes(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, accept=True)

    async def _no(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, accept=False)

    async def _answer(self, interaction: discord.Interaction, *, accept: bool) -> None:
        try:
            text = await self.core.speakers.answer(self.request_id, str(interaction.user.id), accept=accept)
        except VoxnoteError as exc:
            await interaction.response.send_message(f":warning: {exc.detail}", ephemeral=True)
            return
        self.stop()
        # The answer replaces the request, buttons and all: there is nothing left to click.
        await interaction.response.edit_message(content=text, view=None)


async def enrol_from(core: Voxnote, platform: DiscordPlatform, interaction: discord.Interaction,
                     message: discord.Message, *, is_admin: bool) -> str:
    """The admin's answer to "Enrol this voice"; the request itself goes to the channel, addressed to the
    note's author (the person to enrol, under their display name in the server)."""
    ctx = CommandContext(
        platform=Platform.discord,
        workspace_id=str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE,
        channel_id=str(interaction.channel_id),
        user_id=str(interaction.user.id),
        is_admin=is_admin,
    )
    notes = audio_notes(message)
    try:
        if not is_admin:
            raise NotAllowed("only admins can enrol a voice here")
        if not notes or message.author.bot:
            raise CommandError("there is no voice note of a person in this message to enrol")
        pending = await core.enrol(ctx, notes[0], platform, name=message.author.display_name,
                                   user_id=str(message.author.id))
    except VoxnoteError as exc:
        return f":warning: {exc.detail}"
    minutes = round(CONSENT_TTL_S / 60)
    text = (f"<@{message.author.id}>, <@{interaction.user.id}> asks to enrol your voice as "
            f"**{discord.utils.escape_markdown(pending.voice.name)}**: transcripts with speaker labels in this "
            "server would then name you. voxnote keeps a voiceprint (numbers, not audio) until you or an admin "
            f"remove it (`/voxnote speaker remove`). Only you can answer; this request expires in {minutes} minutes.")
    await platform.post_view(message, text, ConsentView(core, pending.id))
    return f"Asked {pending.voice.name} to confirm; nothing is kept until they do."
