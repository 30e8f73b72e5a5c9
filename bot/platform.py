"""The one seam every platform implements. An adapter only translates: it never decides what to say."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.models import AudioNote, MessageRef


@runtime_checkable
class ChatPlatform(Protocol):
    """What the core needs from Slack, Discord or the console."""

    name: str
    #: Longest text one message may hold on this platform.
    max_message_chars: int
    #: Seconds between two partial updates of one live transcript (the first text and the final go at once;
    #: the platform's own rate budgets are kept inside `edit`).
    min_edit_interval: float

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        """Reply to the note at once (in its thread on Slack, as a message reply on Discord)."""

    async def edit(self, ref: MessageRef, text: str) -> None:
        """Replace the text of a message the bot posted."""

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        """Add a further message after `ref` in the same conversation (continuations, summaries)."""

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        """Attach a file (the full transcript as .txt/.srt) to the conversation of `ref`."""

    async def delete(self, ref: MessageRef) -> None:
        """Delete a message the bot posted (its note was deleted); a message already gone is no error."""

    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        """Download the note's bytes; raise `FetchFailed` or `AudioTooLarge` when that is impossible."""

    # Optional: `def stream_audio(self, note, max_bytes) -> AsyncIterator[bytes]` yields the note's bytes as they
    # download (same caps, errors and retries as `fetch_audio`), so an engine can start before the last one.
    # Optional: `async def find_reply(self, note) -> MessageRef | None` finds the bot's reply to `note`
    # after a crash that hit between posting it and storing its id (the core calls it when present).
    # Optional: `async def resolve(self, note, include_video) -> list[AudioNote]` says which notes an
    # `unresolved` note's message holds (platforms whose events may leave that out).
    # Optional (`bot.search.NoteLinks`): `def mention(self, user_id) -> str` and `def permalink(self,
    # workspace_id, channel_id, message_id, thread_id) -> str | None` write a search hit's author and link
    # as the platform shows them (without them a hit names the stored ids).
    # Optional: `def edit_budget(self, ref) -> int` says how many edits of `ref` could go right now without
    # waiting (0, 1 or 2 for "2 or more"): live partials then leave the last token to a final text.
