"""`ChatPlatform` on Discord: the transcript is a reply to the note; what does not fit in 2000 characters
continues in a thread started from the note (or, where threads are impossible, in further replies)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TypeVar

import discord
import httpx

from adapters.discord_.notes import DM_WORKSPACE
from bot.errors import AudioTooLarge, FetchFailed, FetchUnavailable
from bot.models import AudioNote, MessageRef, Platform
from bot.pacing import KeyedLimiter, MovingWindow, available, shared
from bot.retry import is_retryable_status, parse_retry_after
from storage import Store

log = logging.getLogger(__name__)
V = TypeVar("V")

THREAD_NAME = "Voice note transcript"
THREAD_ARCHIVE_MINUTES = 1440
# Discord error code: a thread was already started from this message.
THREAD_ALREADY_EXISTS = 160004
#: Statuses with which the CDN refuses an expired or revoked signed attachment URL.
EXPIRED_STATUSES = frozenset({401, 403, 404, 410})
#: How long a call waits for the gateway connection before giving up (the job is retried later).
CONNECT_WAIT_SECONDS = 60.0
#: Replies remembered (note and thread of each); older ones fall back to threading from the reply.
REMEMBERED_REPLIES = 4096
#: Messages after a note searched for the bot's reply to it (the reply follows the note closely).
REPLY_LOOKUP = 50
#: Discord's message create, edit and delete buckets: 5 per 5 s per channel each, in fixed windows.
#: A moving window of 5 per 5 s (plus a margin for the trip to Discord) never puts more than 5 into any
#: window the server aligns, so the placeholder and the first text go out at once, and a cold burst, which
#: discord.py lets through before it has learned the bucket from the headers, draws no 429 either.
CHANNEL_BUCKET = 5
CHANNEL_WINDOW_SECONDS = 5.0 + 0.3


class _LinkExpired(Exception):
    """The signed CDN URL no longer works; the message must be fetched again for a fresh one."""


def _is_unknown_reference(exc: discord.HTTPException) -> bool:
    """Replying to a deleted message fails with 400 naming the message reference."""
    return exc.status == 400 and "message_reference" in str(exc.text)


class DiscordPlatform:
    """Talks to Discord through a `discord.Client` by ids alone, so a job resumed after a restart can
    still edit the reply it posted before."""

    name = "discord"
    bold = "**{}**"
    max_message_chars = 2000

    def __init__(
        self,
        client: discord.Client | None = None,
        *,
        min_edit_interval: float = 1.2,
        download_timeout: float = 60.0,
        store: Store | None = None,
    ) -> None:
        #: Set by the adapter once the client exists (it is rebuilt if an intent is refused);
        #: `ready` is set while it is connected, so jobs resumed at start-up wait for it.
        self.client = client
        self.ready = asyncio.Event()
        if client is not None:
            self.ready.set()
        # Discord tolerates a few edits per few seconds per channel; 1.2 s per message leaves room
        # for two notes transcribing side by side in one channel without 429s.
        self.min_edit_interval = min_edit_interval
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(download_timeout, connect=10.0), follow_redirects=True)
        # reply message id -> the note it answers (threads start from the note) / the thread made.
        self._note_of_reply: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._threads: OrderedDict[str, str | None] = OrderedDict()
        self._thread_lock = asyncio.Lock()
        # With a store that replicas share (PostgreSQL), a channel's buckets are counted in the database
        # too: Discord's buckets are the bot's, whichever replica (or shard) sends.
        self._creates = _channel_buckets(store, "create")
        self._edits = _channel_buckets(store, "edit")
        self._deletes = _channel_buckets(store, "delete")

    # --- how a search hit names people and links notes ---------------------------------------------
    def mention(self, user_id: str) -> str:
        # Shown as the member's name; the client's AllowedMentions.none() keeps it from pinging anyone.
        return f"<@{user_id}>"

    def permalink(self, workspace_id: str, channel_id: str, message_id: str, thread_id: str | None) -> str | None:
        """`https://discord.com/channels/<guild or @me>/<channel>/<message>`, Discord's "Copy Message Link"."""
        guild = "@me" if workspace_id == DM_WORKSPACE else workspace_id
        return f"https://discord.com/channels/{guild}/{channel_id}/{message_id}"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _client(self) -> discord.Client:
        try:
            await asyncio.wait_for(self.ready.wait(), CONNECT_WAIT_SECONDS)
        except asyncio.TimeoutError:
            raise RuntimeError("not connected to Discord") from None
        assert self.client is not None
        return self.client

    async def _channel(self, channel_id: str | int) -> discord.PartialMessageable:
        return (await self._client()).get_partial_messageable(int(channel_id))

    # --- posting --------------------------------------------------------------------------------

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        reference = discord.MessageReference(
            message_id=int(note.message_id),
            channel_id=int(note.channel_id),
            guild_id=int(note.workspace_id) if note.workspace_id.isdigit() else None,
        )
        try:
            channel = await self._channel(note.channel_id)
            # The nonce makes the create idempotent for a few minutes (discord.py sends enforce_nonce):
            # a job run again right after a crash between this call and storing the id gets the same reply.
            await self._creates(note.channel_id).acquire()
            message = await channel.send(_fit(text, note.label), reference=reference, mention_author=False,
                                         nonce=_nonce(note))
        except discord.HTTPException as exc:
            if _is_unknown_reference(exc) or exc.code == 10008:
                raise FetchFailed("the voice note was deleted before it could be transcribed") from exc
            raise
        reply_id = str(message.id)
        _remember(self._note_of_reply, reply_id, (note.channel_id, note.message_id))
        return MessageRef(platform=Platform.discord, channel_id=note.channel_id, message_id=reply_id, label=note.label)

    async def post_view(self, message: discord.Message, text: str, view: discord.ui.View) -> None:
        """A reply to `message` with buttons (a consent request), pinging only the people it names."""
        channel = await self._channel(message.channel.id)
        await self._creates(str(message.channel.id)).acquire()
        await channel.send(_fit(text), view=view, reference=message.to_reference(fail_if_not_exists=False),
                           mention_author=False, allowed_mentions=discord.AllowedMentions(users=True))

    async def find_reply(self, note: AudioNote) -> MessageRef | None:
        """This bot's reply to `note` among the messages after it (after a crash that lost its id)."""
        client = await self._client()
        channel = await self._channel(note.channel_id)
        note_id = int(note.message_id)
        try:
            async for message in channel.history(after=discord.Object(note_id), limit=REPLY_LOOKUP):
                ref = message.reference
                if not (client.user and message.author.id == client.user.id and ref and ref.message_id == note_id):
                    continue
                # One reply per attachment: with several, the reply names its file on its first line.
                if note.label is None or message.content.startswith(_marker(note.label)):
                    return MessageRef(platform=Platform.discord, channel_id=note.channel_id,
                                      message_id=str(message.id), label=note.label)
        except discord.HTTPException as exc:
            log.warning("could not look for an earlier reply in %s: %s", note.channel_id, exc)
        return None

    def edit_budget(self, ref: MessageRef) -> int:
        return available(self._edits(ref.channel_id))

    async def edit(self, ref: MessageRef, text: str) -> None:
        channel = await self._channel(ref.channel_id)
        await self._edits(ref.channel_id).acquire()
        await channel.get_partial_message(int(ref.message_id)).edit(content=_fit(text, ref.label))

    async def delete(self, ref: MessageRef) -> None:
        channel = await self._channel(ref.channel_id)
        try:
            await self._deletes(ref.channel_id).acquire()
            await channel.get_partial_message(int(ref.message_id)).delete()
        except discord.NotFound:
            pass

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        return await self._send_after(ref, text=_fit(text))

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        await self._send_after(ref, text=comment or None, file=discord.File(io.BytesIO(data), filename=filename))

    async def _send_after(self, ref: MessageRef, *, text: str | None, file: discord.File | None = None) -> MessageRef:
        """Send in the thread of `ref` (started on first use), else as a reply to `ref`."""
        thread_id = ref.thread_id or await self._thread_for(ref)
        kwargs: dict[str, object] = {"file": file} if file is not None else {}
        if thread_id is not None:
            thread = await self._channel(thread_id)
            await self._creates(thread_id).acquire()
            message = await thread.send(text, **kwargs)  # type: ignore[arg-type]
            return MessageRef(platform=Platform.discord, channel_id=thread_id, message_id=str(message.id),
                              thread_id=thread_id)
        reference = discord.MessageReference(
            message_id=int(ref.message_id), channel_id=int(ref.channel_id), fail_if_not_exists=False
        )
        channel = await self._channel(ref.channel_id)
        await self._creates(ref.channel_id).acquire()
        message = await channel.send(
            text, reference=reference, mention_author=False, **kwargs  # type: ignore[arg-type]
        )
        return MessageRef(platform=Platform.discord, channel_id=ref.channel_id, message_id=str(message.id))

    async def _thread_for(self, ref: MessageRef) -> str | None:
        """The thread continuing `ref`: created once from the note, then reused; None where Discord
        has no room for one (DMs, notes already inside a thread, no thread permission)."""
        async with self._thread_lock:
            if ref.message_id in self._threads:
                return self._threads[ref.message_id]
            # After a restart the note is unknown: the reply itself can carry the thread.
            channel_id, starter_id = self._note_of_reply.get(ref.message_id, (ref.channel_id, ref.message_id))
            thread_id: str | None
            try:
                client = await self._client()
                data = await client.http.start_thread_with_message(
                    int(channel_id), int(starter_id), name=THREAD_NAME, auto_archive_duration=THREAD_ARCHIVE_MINUTES
                )
                thread_id = str(data["id"])
            except discord.HTTPException as exc:
                if exc.code == THREAD_ALREADY_EXISTS:
                    # Someone already opened a thread on the note; a message's thread shares its id.
                    thread_id = starter_id
                else:
                    log.info("no thread for the transcript in channel %s (%s); replying instead", channel_id, exc)
                    thread_id = None
            _remember(self._threads, ref.message_id, thread_id)
            return thread_id

    # --- audio ----------------------------------------------------------------------------------

    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        """Download the attachment from the CDN; an expired link is refreshed once by fetching the
        message again (signed URLs last about a day; a job may be retried later than that)."""
        # BytesIO hands its buffer over without a copy; bytes(bytearray) held the file twice.
        buffer = io.BytesIO()
        async for chunk in self.stream_audio(note, max_bytes):
            buffer.write(chunk)
        return buffer.getvalue()

    async def stream_audio(self, note: AudioNote, max_bytes: int) -> AsyncIterator[bytes]:
        """`fetch_audio` chunk by chunk as the bytes arrive, with the same caps, errors and link refresh
        (an expired link is known from the status, before the first byte)."""
        if note.size is not None and note.size > max_bytes:
            raise AudioTooLarge(f"{note.filename} is {note.size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
        if note.public_url:
            try:
                async for chunk in self._download(note.public_url, note.filename, max_bytes):
                    yield chunk
                return
            except _LinkExpired:
                log.info("attachment link of %s expired; fetching the message again", note.idempotency_key)
        try:
            async for chunk in self._download(await self._fresh_url(note), note.filename, max_bytes):
                yield chunk
        except _LinkExpired as exc:
            raise FetchFailed(f"Discord refused the attachment download ({exc})") from None

    async def _fresh_url(self, note: AudioNote) -> str:
        try:
            channel = await self._channel(note.channel_id)
            message = await channel.fetch_message(int(note.message_id))
        except discord.NotFound:
            raise FetchFailed("the voice note was deleted") from None
        except discord.Forbidden:
            raise FetchFailed("the bot may not read this channel's message history") from None
        except discord.DiscordServerError as exc:
            raise FetchUnavailable(f"Discord could not fetch the message ({exc.status})") from None
        for attachment in message.attachments:
            if str(attachment.id) == note.attachment_id:
                return attachment.url
        raise FetchFailed("the audio attachment was removed from the message")

    async def _download(self, url: str, filename: str, max_bytes: int) -> AsyncIterator[bytes]:
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code in EXPIRED_STATUSES:
                    raise _LinkExpired(f"HTTP {response.status_code}")
                if is_retryable_status(response.status_code):
                    raise FetchUnavailable(f"the Discord CDN answered HTTP {response.status_code}",
                                           retry_after=parse_retry_after(response.headers))
                if response.status_code != 200:
                    raise FetchFailed(f"the Discord CDN answered HTTP {response.status_code}")
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > max_bytes:
                    raise AudioTooLarge(f"{filename} is over {max_bytes / 1e6:.0f} MB")
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise AudioTooLarge(f"{filename} is over {max_bytes / 1e6:.0f} MB")
                    yield chunk
        except httpx.TransportError as exc:
            # Timeouts, resets, refused connections: the CDN may well answer next time.
            raise FetchUnavailable(f"the download from Discord's CDN failed ({type(exc).__name__})") from exc


def _channel_buckets(store: Store | None = None, route: str = "") -> KeyedLimiter:
    return KeyedLimiter(CHANNEL_BUCKET, CHANNEL_WINDOW_SECONDS,
                        make=lambda: MovingWindow(CHANNEL_BUCKET, CHANNEL_WINDOW_SECONDS),
                        share=lambda channel, local: shared(local, store, f"discord:{route}:{channel}",
                                                            CHANNEL_BUCKET, CHANNEL_WINDOW_SECONDS))


def _remember(cache: OrderedDict[str, V], key: str, value: V) -> None:
    cache[key] = value
    while len(cache) > REMEMBERED_REPLIES:
        cache.popitem(last=False)


def _marker(label: str) -> str:
    """The first line of a reply that answers one of several attachments: Discord's small subtext."""
    return f"-# {label}\n"


def _nonce(note: AudioNote) -> str:
    """25 characters (Discord's limit) that stand for the note's key."""
    return hashlib.sha256(note.idempotency_key.encode()).hexdigest()[:25]


def _fit(text: str, label: str | None = None, limit: int = DiscordPlatform.max_message_chars) -> str:
    """The label's line, then the text. Discord rejects longer content outright; the core splits
    (leaving room for a label), this only guards the edge."""
    marker = _marker(label) if label else ""
    room = limit - len(marker)
    return marker + (text if len(text) <= room else text[: room - 1] + "…")
