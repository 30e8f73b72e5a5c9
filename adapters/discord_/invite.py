"""The OAuth2 URL that adds the bot to a server with exactly what it needs, and nothing more."""

from __future__ import annotations

import discord

from bot.errors import VoxnoteError

SCOPES = ("bot", "applications.commands")


def bot_permissions() -> discord.Permissions:
    """See channels and their history (to read notes), reply, open a thread and attach the .txt."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        attach_files=True,
        read_message_history=True,
    )


def invite_url(client_id: str) -> str:
    """`voxnote discord-invite CLIENT_ID`: open it, pick a server, authorise."""
    client_id = client_id.strip()
    # Discord would take any text here and answer the user's browser with "invalid client_id": say it now.
    if not client_id.isascii() or not client_id.isdigit():
        raise VoxnoteError(
            f"CLIENT_ID must be the application's numeric id (Developer Portal -> your app -> General "
            f"Information -> Application ID), not {client_id!r}"
        )
    return discord.utils.oauth_url(client_id, permissions=bot_permissions(), scopes=SCOPES)
