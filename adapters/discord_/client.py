"""The Discord side of `voxnote run`: a `discord.Client` whose events become notes for the core, the
command tree synced at login, and the loop that keeps the connection up.

The REST base and the gateway URL come from settings (a rate-limit proxy in production, a fake in
tests); discord.py 2.7 reads them from two class attributes, set before connecting."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord_.commands import build_commands
from adapters.discord_.notes import DM_WORKSPACE, audio_notes
from adapters.discord_.platform import DiscordPlatform
from bot.config import Settings
from bot.core import Voxnote
from bot.errors import VoxnoteError
from bot.flags import unicode_flag_language
from bot.models import Platform

log = logging.getLogger(__name__)

#: Reacting with this emoji asks for a transcript where auto-transcribe is off.
TRANSCRIBE_EMOJI = "\N{MEMO}"
TRANSLATE_EMOJI = "\N{GLOBE WITH MERIDIANS}"
MISSING_INTENT = (
    "Discord refused the MESSAGE CONTENT intent: voice notes posted in servers will go unnoticed "
    "(DMs, /voxnote, the 'Transcribe' message command and the memo reaction still work). Enable it at "
    "https://discord.com/developers/applications -> your app -> Bot -> Privileged Gateway Intents -> "
    "MESSAGE CONTENT INTENT, then restart voxnote."
)
COMMAND_FAILED = ":warning: Something went wrong; please try again."


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at the configured REST base and gateway (process-wide class attributes)."""
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def gateway_intents(message_content: bool = True) -> discord.Intents:
    """Only what the bot reads: servers, messages (with their attachments) and reactions."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = message_content
    return intents


class CommandTree(app_commands.CommandTree):
    """Answers a failed command with a plain ephemeral line instead of leaving it unanswered."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        log.error("command %s failed", interaction.command and interaction.command.qualified_name, exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(COMMAND_FAILED, ephemeral=True)
            else:
                await interaction.response.send_message(COMMAND_FAILED, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user that the command failed", exc_info=True)


class VoxnoteClient(discord.Client):
    """Turns messages with audio, memo reactions and app commands into calls on the core."""

    def __init__(
        self,
        settings: Settings,
        core: Voxnote,
        platform: DiscordPlatform,
        *,
        intents: discord.Intents,
        **options: Any,
    ) -> None:
        # voxnote reads voice *messages* (audio attachments) and never joins a voice channel, so discord.py's
        # "PyNaCl (or davey) is not installed, voice will NOT be supported" describes nothing it needs.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents,
            # Transcripts quote people: never let spoken "@everyone" or a reply ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            max_messages=None,
            chunk_guilds_at_startup=False,
            **options,
        )
        self.settings = settings
        self.core = core
        self.platform = platform
        self.tree = CommandTree(self)
        for command in build_commands(core, platform):
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        guild_id = self.settings.discord_guild_id
        if guild_id:
            # Guild commands show up at once: the way to develop and test.
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d Discord commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global Discord commands (they may take a while to appear)", len(synced))

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s (id %s) in %d servers", self.user, self.application_id, len(self.guilds))
        self.platform.ready.set()

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted note takes its transcript and the bot's reply with it (not the other way round)."""
        await self._deleted(payload.guild_id, payload.channel_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._deleted(payload.guild_id, payload.channel_id, sorted(payload.message_ids))

    async def _deleted(self, guild_id: int | None, channel_id: int, message_ids: list[int]) -> None:
        workspace = str(guild_id) if guild_id else DM_WORKSPACE
        for message_id in message_ids:
            await self.core.message_deleted(Platform.discord, workspace, str(channel_id), str(message_id))

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None and message.author.id == self.user.id:
            return  # our own replies and transcripts, echoed back by the gateway
        if message.author.bot and self.settings.discord_ignore_bots:
            return
        for note in audio_notes(message):
            await self.core.submit(note, self.platform)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        emoji = str(event.emoji)
        # A flag (🇫🇷) asks for the note again in that country's language, in its reply.
        language = unicode_flag_language(emoji)
        translate = emoji == TRANSLATE_EMOJI
        wanted = emoji == TRANSCRIBE_EMOJI or language is not None or translate
        if not wanted or (self.user is not None and event.user_id == self.user.id):
            return
        channel = self.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        try:
            message = await channel.fetch_message(event.message_id)
        except discord.HTTPException as exc:
            log.info("could not fetch message %s for a memo reaction: %s", event.message_id, exc)
            return
        for note in audio_notes(message):
            if language is not None or translate:
                note = note.model_copy(update={"language": language, "translate": translate})
            await self.core.submit(note, self.platform, on_demand=True)



class ShardedVoxnoteClient(VoxnoteClient, discord.AutoShardedClient):
    """The same bot over the gateway shards this replica runs (VOXNOTE_DISCORD_SHARD_IDS of
    VOXNOTE_DISCORD_SHARD_COUNT): Discord sends each guild's events on one shard only, so replicas split
    the guilds; replies go over REST, which any replica may use for any channel."""


def client_class(settings: Settings) -> tuple[type[VoxnoteClient], dict[str, Any]]:
    """The client for the configured sharding and its options: one plain connection unless a shard count is
    set. Without shard ids, this replica runs every shard (discord.py's AutoShardedClient)."""
    if settings.discord_shard_count is None:
        return VoxnoteClient, {}
    return ShardedVoxnoteClient, {"shard_count": settings.discord_shard_count,
                                  "shard_ids": settings.discord_shard_ids or None}


class DiscordBot:
    """Owns the client for `voxnote run`: `start()` returns once connected, `stop()` disconnects.

    When Discord refuses the privileged MESSAGE CONTENT intent the bot says so plainly and reconnects
    without it, so commands and DMs keep working."""

    def __init__(
        self,
        settings: Settings,
        core: Voxnote,
        *,
        min_edit_interval: float = 1.2,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        if settings.discord_token is None:
            raise VoxnoteError("Discord: DISCORD_TOKEN is not set")
        self.settings = settings
        self.core = core
        self.platform = DiscordPlatform(min_edit_interval=min_edit_interval, store=core.store)
        self.client: VoxnoteClient | None = None
        self.message_content = True
        self._guild_ready_timeout = guild_ready_timeout
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        configure_endpoints(self.settings)
        self._task = asyncio.create_task(self._run(), name="discord")
        ready = asyncio.create_task(self.platform.ready.wait())
        try:
            await asyncio.wait({ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            self._task.result()  # raises what stopped it
            raise VoxnoteError("Discord: the connection closed before the bot was ready")
        if not self.platform.ready.is_set():
            raise VoxnoteError(f"Discord: not connected after {timeout:.0f} s")
        # Jobs left from before a restart resume on this platform as soon as it is registered.
        self.core.register(self.platform, Platform.discord)

    async def wait_closed(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.platform.aclose()

    async def _run(self) -> None:
        assert self.settings.discord_token is not None
        token = self.settings.discord_token.get_secret_value()
        make, sharding = client_class(self.settings)
        while True:
            client = make(
                self.settings,
                self.core,
                self.platform,
                intents=gateway_intents(self.message_content),
                guild_ready_timeout=self._guild_ready_timeout,
                **sharding,
            )
            self.platform.ready.clear()
            self.client = self.platform.client = client
            try:
                async with client:
                    await client.start(token)
                return
            except discord.PrivilegedIntentsRequired:
                if not self.message_content:
                    raise
                log.error(MISSING_INTENT)
                self.message_content = False
            except discord.LoginFailure:
                raise VoxnoteError("Discord rejected DISCORD_TOKEN (reset it in the developer portal)") from None


async def run_discord(settings: Settings, core: Voxnote) -> None:
    """Run the Discord adapter until cancelled (what `voxnote run` starts)."""
    bot = DiscordBot(settings, core)
    try:
        await bot.start()
        await bot.wait_closed()
    finally:
        await bot.stop()
