"""Which Discord messages carry audio, and the `AudioNote` each audio attachment becomes."""

from __future__ import annotations

import posixpath

import discord

from bot.models import AudioNote, Platform

AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".wav", ".ogg", ".oga", ".opus", ".webm", ".flac"})
#: Messages people post (plain and replies); system messages never carry notes.
NOTE_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
DM_WORKSPACE = "dm"


def _media_type(attachment: discord.Attachment) -> str:
    return (attachment.content_type or "").split(";")[0].strip().lower()


def is_audio(attachment: discord.Attachment) -> bool:
    """A voice-message clip, an `audio/*` upload, or a file with a known audio extension."""
    if attachment.is_voice_message() or _media_type(attachment).startswith("audio/"):
        return True
    return posixpath.splitext(attachment.filename.lower())[1] in AUDIO_EXTENSIONS


def workspace_id(message: discord.Message) -> str:
    """The guild id, or `dm` for direct messages (settings are then per DM channel)."""
    guild_id = message.guild.id if message.guild is not None else getattr(message.channel, "guild_id", None)
    return str(guild_id) if guild_id else DM_WORKSPACE


def note_from(message: discord.Message, attachment: discord.Attachment) -> AudioNote:
    return AudioNote(
        platform=Platform.discord,
        workspace_id=workspace_id(message),
        # A thread is a channel of its own on Discord: replies and settings follow it.
        channel_id=str(message.channel.id),
        message_id=str(message.id),
        thread_id=None,
        author_id=str(message.author.id),
        attachment_id=str(attachment.id),
        filename=attachment.filename,
        mime_type=_media_type(attachment) or None,
        size=attachment.size,
        duration=attachment.duration,
        # Signed CDN link: anyone holding it may fetch the file until it expires.
        public_url=attachment.url,
    )


def audio_notes(message: discord.Message) -> list[AudioNote]:
    """One note per audio attachment of `message` (a voice message has exactly one)."""
    if message.type not in NOTE_MESSAGE_TYPES:
        return []
    if message.flags.voice:
        # The flag marks the message; its clip is the single attachment, whatever its metadata says.
        return [note_from(message, a) for a in message.attachments[:1]]
    notes = [note_from(message, a) for a in message.attachments if is_audio(a)]
    if len(notes) > 1:
        # Several replies answer one message: each names its file, so people (and `find_reply`) tell them apart.
        notes = [n.model_copy(update={"label": n.filename}) for n in notes]
    return notes
