"""Discord adapter: voice messages and audio attachments in, a live transcript in the reply.

Named `discord_` so that it never shadows the `discord` library it is built on."""

from adapters.discord_.client import DiscordBot, run_discord
from adapters.discord_.invite import invite_url
from adapters.discord_.platform import DiscordPlatform

__all__ = ["DiscordBot", "DiscordPlatform", "invite_url", "run_discord"]
