"""The adapter registry: the one place under `bot/` that names the platforms' adapters.

The core only knows the `ChatPlatform` port (`bot.platform`); the runner and the CLI reach an adapter
through here. Imports are lazy, so `voxnote transcribe` never loads slack-bolt or discord.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.core import Voxnote

#: Runs one platform's adapter until it is cancelled (or, for the console, until end of input).
AdapterRun = Callable[[Settings, "Voxnote"], Awaitable[None]]

ADAPTERS = ("slack", "discord", "console")


def adapter(name: str) -> AdapterRun:
    """The run function of the adapter called `name` (one of `ADAPTERS`)."""
    if name == "slack":
        from adapters.slack import run_slack

        return run_slack
    if name == "discord":
        from adapters.discord_ import run_discord

        return run_discord
    if name == "console":
        from adapters.console import run_console

        return lambda _settings, core: run_console(core)
    raise KeyError(f"no adapter called {name!r}; known: {', '.join(ADAPTERS)}")


def discord_invite_url(client_id: str) -> str:
    """`voxnote discord-invite`: the OAuth2 URL that adds the bot to a server with what it needs."""
    from adapters.discord_ import invite_url

    return invite_url(client_id)
