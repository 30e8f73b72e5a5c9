"""Slack payloads in, `AudioNote`s out: which messages carry audio a person would want transcribed.

Slack's recorded clips are files with `subtype: slack_audio` (video clips: `slack_video`); uploaded
audio is recognised by its MIME type or file type. Video is only taken when asked for (`include_video`),
because a screen recording is rarely worth a transcript nobody requested."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.models import AudioNote, Platform

AUDIO_FILETYPES = frozenset({"mp3", "m4a", "wav", "ogg", "oga", "opus", "webm", "flac", "aac", "amr", "mpga"})
VIDEO_FILETYPES = frozenset({"mp4", "mov", "m4v", "mkv", "avi", "mpg", "mpeg", "3gp"})
# Subtypes of message events that show a new message from a person; everything else (edits,
# deletions, joins, bot posts) is not a voice note.
NOTE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


class MediaKind(StrEnum):
    audio = "audio"
    video = "video"


class SlackFile(BaseModel):
    """The parts of a Slack file object voxnote reads."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    title: str | None = None
    mimetype: str | None = None
    filetype: str | None = None
    subtype: str | None = None
    size: int | None = None
    duration_ms: int | None = None
    url_private: str | None = None
    url_private_download: str | None = None
    # "check_file_info": the event carries only the id (e.g. shared from another workspace).
    file_access: str | None = None
    mode: str | None = None

    @property
    def incomplete(self) -> bool:
        """True when the event left out what is needed to classify or fetch the file."""
        return self.file_access == "check_file_info" or (self.mimetype is None and self.filetype is None)

    def kind(self) -> MediaKind | None:
        if self.mode in ("tombstone", "hidden_by_limit"):
            return None
        if self.subtype == "slack_audio":
            return MediaKind.audio
        if self.subtype == "slack_video":
            return MediaKind.video
        mime = (self.mimetype or "").lower()
        if mime.startswith("audio/"):
            return MediaKind.audio
        if mime.startswith("video/"):
            return MediaKind.video
        filetype = (self.filetype or "").lower()
        if filetype in AUDIO_FILETYPES:
            return MediaKind.audio
        if filetype in VIDEO_FILETYPES:
            return MediaKind.video
        return None

    def filename(self) -> str:
        if self.name:
            return self.name
        return f"{self.id}.{self.filetype}" if self.filetype else self.id


class SlackMessage(BaseModel):
    """A message as it arrives in a `message` event, a shortcut payload or conversations.history."""

    model_config = ConfigDict(extra="ignore")

    ts: str
    subtype: str | None = None
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    channel: str | None = None
    team: str | None = None
    files: list[SlackFile] = Field(default_factory=list)

    @property
    def from_person(self) -> bool:
        """A new message written by a person (not a bot, an edit, a deletion or a channel notice)."""
        return self.subtype in NOTE_SUBTYPES and self.bot_id is None


def note_for(message: SlackMessage, file: SlackFile, *, team_id: str, channel_id: str) -> AudioNote:
    """The note for one file of a message; its replies go to the message's thread."""
    return AudioNote(
        platform=Platform.slack,
        workspace_id=team_id,
        channel_id=channel_id,
        message_id=message.ts,
        thread_id=message.thread_ts or message.ts,
        author_id=message.user or "",
        attachment_id=file.id,
        filename=file.filename(),
        mime_type=file.mimetype,
        size=file.size,
        duration=file.duration_ms / 1000 if file.duration_ms is not None else None,
        # Slack URLs need the bot token: never hand them to a third party.
        public_url=None,
    )


def media_files(message: SlackMessage, *, include_video: bool = False) -> list[SlackFile]:
    """The files of a message worth transcribing, in the order they were posted."""
    wanted = {MediaKind.audio, MediaKind.video} if include_video else {MediaKind.audio}
    return [f for f in message.files if f.kind() in wanted]


def audio_notes(
    message: SlackMessage, *, team_id: str, channel_id: str, include_video: bool = False
) -> list[AudioNote]:
    """One note per audio (and, if asked, video) file of a message written by a person."""
    if not message.from_person:
        return []
    return [
        note_for(message, f, team_id=team_id, channel_id=channel_id)
        for f in media_files(message, include_video=include_video)
    ]


def unresolved_notes(message: SlackMessage, *, team_id: str, channel_id: str) -> list[AudioNote]:
    """Files the event names without their metadata (shared from another workspace): one note each, for
    the job to resolve with files.info, where a failure is retried instead of dropping the note."""
    if not message.from_person:
        return []
    return [
        AudioNote(platform=Platform.slack, workspace_id=team_id, channel_id=channel_id, message_id=message.ts,
                  thread_id=message.thread_ts or message.ts, author_id=message.user or "",
                  attachment_id=f"?{f.id}", filename=f.id, unresolved=True)
        for f in message.files
        if f.incomplete
    ]


def message_note(*, team_id: str, channel_id: str, ts: str) -> AudioNote:
    """A message whose files are unknown (a reaction on one the bot never saw): the job looks it up."""
    return AudioNote(platform=Platform.slack, workspace_id=team_id, channel_id=channel_id, message_id=ts,
                     attachment_id="?", filename="message", unresolved=True)
