"""`ChatPlatform` on Slack: replies in the note's thread, paced edits, uploads, private downloads."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import yarl
from aiolimiter import AsyncLimiter
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.notes import SlackFile, SlackMessage, audio_notes
from bot.errors import AudioTooLarge, CommandError, Deferred, FetchFailed, FetchUnavailable
from bot.models import AudioNote, MessageRef, Platform
from bot.pacing import KeyedLimiter, available, shared, try_acquire
from bot.retry import is_retryable_status, parse_retry_after
from storage import Store

log = logging.getLogger(__name__)

# Slack truncates `text` past 40,000 characters but asks to keep it under 4,000 so a message stays
# readable; 3,500 leaves room for escaping (`&` -> `&amp;`) and the core's header line. Replies are
# plain text (no section blocks, whose limit is 3,000).
MAX_MESSAGE_CHARS = 3_500
# Partial updates of one live transcript, at most one per this many seconds (the first text and the final
# go at once). chat.update is Tier 3, about 50 a minute per workspace, which SlackPacing.updates keeps.
MIN_EDIT_INTERVAL = 1.0
DOWNLOAD_CHUNK = 64 * 1024
REPLY_EVENT = "voxnote_reply"
# Where Slack serves private files: files.slack.com (and each workspace's own subdomain), GovSlack's twin.
SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")
EXTERNAL_FILE = ("this file is stored outside Slack (an external link): voxnote transcribes files uploaded to "
                 "Slack only")
# conversations.replies returns at most 15 messages a call for apps outside the Marketplace. The reply
# follows its note closely, so a search from the note needs a page or two.
REPLIES_PAGE = 15
REPLY_LOOKUP_PAGES = 3
# Web API errors that say the thing will never be readable; any other error is worth a retry.
GONE_ERRORS = frozenset({"file_not_found", "file_deleted", "channel_not_found", "thread_not_found", "not_in_channel",
                         "not_authed", "invalid_auth", "missing_scope", "not_allowed_token_type", "access_denied",
                         "token_revoked", "account_inactive"})


def api_failure(e: SlackApiError, what: str) -> FetchFailed | FetchUnavailable:
    """A Web API error as the job queue needs it: final when the thing is gone, else retried later."""
    error = str(e.response.get("error"))
    if error in GONE_ERRORS:
        return FetchFailed(f"Slack couldn't find {what} ({error})")
    retry_after = parse_retry_after(e.response.headers) if e.response.headers else None
    return FetchUnavailable(f"Slack could not give {what} ({error})", retry_after=retry_after)


class SlackPacing:
    """Token buckets that keep the bot under Slack's limits, shared by every note of the workspace, so a
    burst of notes waits its turn instead of drawing 429s (slack_sdk would sleep through them, late)."""

    POST_BURST = 3
    UPDATE_BURST = 10

    def __init__(self, posts_per_second: float = 1.0, updates_per_minute: float = 45, history_per_minute: float = 1,
                 store: Store | None = None):
        # With a store that replicas share (PostgreSQL), every budget is also counted in the database, so
        # the replicas together keep Slack's limits (which are the app's, not a process's).
        post_period = self.POST_BURST / posts_per_second
        #: chat.postMessage's bucket per channel (placeholders, continuations, summaries).
        self.posts = KeyedLimiter(self.POST_BURST, post_period, share=lambda channel, local: shared(
            local, store, f"slack:chat.postMessage:{channel}", self.POST_BURST, post_period))
        # chat.update and chat.delete are separate Tier 3 methods, each with its own budget.
        update_period = self.UPDATE_BURST * 60 / updates_per_minute
        self.updates = shared(AsyncLimiter(self.UPDATE_BURST, update_period), store, "slack:chat.update",
                              self.UPDATE_BURST, update_period)
        self.deletes = shared(AsyncLimiter(self.UPDATE_BURST, update_period), store, "slack:chat.delete",
                              self.UPDATE_BURST, update_period)
        self.history = shared(AsyncLimiter(1, 60 / history_per_minute), store, "slack:conversations.history",
                              1, 60 / history_per_minute)
        self.replies = shared(AsyncLimiter(1, 60 / history_per_minute), store, "slack:conversations.replies",
                              1, 60 / history_per_minute)
        #: How long until the replies budget refills (a job deferred for it waits that long).
        self.replies_period = 60 / history_per_minute


class SlackPlatform:
    """What the core calls to talk to one Slack workspace."""

    name = "slack"
    bold = "*{}*"
    max_message_chars = MAX_MESSAGE_CHARS
    min_edit_interval = MIN_EDIT_INTERVAL

    def __init__(self, client: AsyncWebClient, *, download_timeout_s: float = 120.0,
                 pacing: SlackPacing | None = None) -> None:
        self.client = client
        self.pacing = pacing or SlackPacing()
        self._download_timeout = aiohttp.ClientTimeout(total=download_timeout_s, sock_connect=10)
        self._session: aiohttp.ClientSession | None = None
        #: The workspace's address (`https://team.slack.com/`), from auth.test at start-up: message links
        #: are built from it, with no Web API call per search hit.
        self.workspace_url: str | None = None

    # --- how a search hit names people and links notes ---------------------------------------------
    def mention(self, user_id: str) -> str:
        return f"<@{user_id}>"

    def permalink(self, workspace_id: str, channel_id: str, message_id: str, thread_id: str | None) -> str | None:
        """Slack's permalink form, `<workspace>/archives/<channel>/p<ts without its dot>` (what
        chat.getPermalink answers), with the thread named for a note posted in one."""
        if not self.workspace_url or not message_id:
            return None
        link = f"{self.workspace_url.rstrip('/')}/archives/{channel_id}/p{message_id.replace('.', '')}"
        if thread_id and thread_id != message_id:
            link += f"?thread_ts={thread_id}&cid={channel_id}"
        return link

    # --- messages --------------------------------------------------------------------------------
    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        # The note's key rides along as message metadata so `find_reply` can recognise the reply later.
        metadata = {"event_type": REPLY_EVENT, "event_payload": {"note": note.idempotency_key}}
        return await self._post(note.channel_id, note.thread_id or note.message_id, text, metadata=metadata)

    async def find_reply(self, note: AudioNote) -> MessageRef | None:
        """The reply this bot posted for `note`, found in the note's thread by its metadata.

        Only the last resort (the reply's ts is stored the moment it exists): conversations.replies gives
        non-Marketplace apps 15 messages a call and about one call a minute, so the search starts at the
        note itself (the reply follows it within seconds) and reads a few pages at most. slack_sdk's
        rate-limit handler waits out a 429; this runs inside the job, never before an ack."""
        thread_ts = note.thread_id or note.message_id
        cursor: str | None = None
        for _ in range(REPLY_LOOKUP_PAGES):
            if not await try_acquire(self.pacing.replies):
                # Waiting here would hold a worker for up to a minute: the job waits in the queue instead.
                raise Deferred("conversations.replies budget spent", retry_after=self.pacing.replies_period)
            try:
                resp = await self.client.conversations_replies(
                    channel=note.channel_id, ts=thread_ts, oldest=note.message_id, inclusive=True,
                    include_all_metadata=True, limit=REPLIES_PAGE, cursor=cursor,
                )
            except SlackApiError as e:
                log.warning("could not look for an earlier reply in %s: %s", note.channel_id, e.response.get("error"))
                return None
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                if meta.get("event_type") == REPLY_EVENT and (meta.get("event_payload") or {}).get("note") == note.idempotency_key:
                    return MessageRef(platform=Platform.slack, channel_id=note.channel_id, message_id=str(msg["ts"]),
                                      thread_id=thread_ts)
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                break
        return None

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        return await self._post(ref.channel_id, ref.thread_id or ref.message_id, text)

    def edit_budget(self, ref: MessageRef) -> int:
        return available(self.pacing.updates)

    async def edit(self, ref: MessageRef, text: str) -> None:
        # chat.update's budget is the workspace's (Tier 3); Slack sets no per-message pace of its own.
        await self.pacing.updates.acquire()
        await self.client.chat_update(channel=ref.channel_id, ts=ref.message_id, text=to_mrkdwn(text))

    async def delete(self, ref: MessageRef) -> None:
        try:
            await self.pacing.deletes.acquire()
            await self.client.chat_delete(channel=ref.channel_id, ts=ref.message_id)
        except SlackApiError as e:
            if e.response.get("error") != "message_not_found":
                raise

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        await self.client.files_upload_v2(
            channel=ref.channel_id,
            thread_ts=ref.thread_id or ref.message_id,
            filename=filename,
            title=filename,
            content=data,
            initial_comment=to_mrkdwn(comment) if comment else None,
        )

    async def _post(self, channel: str, thread_ts: str, text: str, metadata: dict | None = None) -> MessageRef:
        await self.pacing.posts(channel).acquire()
        resp = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=to_mrkdwn(text), unfurl_links=False, unfurl_media=False,
            metadata=metadata,
        )
        ts = str(resp["ts"])
        return MessageRef(platform=Platform.slack, channel_id=channel, message_id=ts, thread_id=thread_ts)

    # --- enrolling a voice ------------------------------------------------------------------------
    async def display_name(self, user_id: str) -> str:
        """What the person is called in the workspace (their display name, else their full name)."""
        try:
            resp = await self.client.users_info(user=user_id)
        except SlackApiError as e:
            # Without a name there is nothing to enrol under: say so rather than use a raw user id.
            raise CommandError(f"could not look up that person's name ({e.response.get('error')})") from e
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        return str(profile.get("display_name") or user.get("real_name") or profile.get("real_name")
                   or user.get("name") or user_id)

    async def post_blocks(self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]]) -> str:
        """A message with buttons in a thread (the consent request); returns its ts."""
        await self.pacing.posts(channel).acquire()
        resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks,
                                                  unfurl_links=False, unfurl_media=False)
        return str(resp["ts"])

    async def replace_blocks(self, channel: str, ts: str, text: str) -> None:
        """The consent request answered: its buttons go, the outcome stays."""
        await self.pacing.updates.acquire()
        await self.client.chat_update(channel=channel, ts=ts, text=to_mrkdwn(text), blocks=[])

    # --- audio -----------------------------------------------------------------------------------
    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        """Download a private Slack file with the bot token, refusing oversize files before reading them."""
        # BytesIO hands its buffer over without a copy; bytes(bytearray) held the file twice.
        data = io.BytesIO()
        async for chunk in self.stream_audio(note, max_bytes):
            data.write(chunk)
        return data.getvalue()

    async def stream_audio(self, note: AudioNote, max_bytes: int) -> AsyncIterator[bytes]:
        """`fetch_audio` chunk by chunk as the bytes arrive, with the same checks, caps and errors."""
        url = await self._download_url(note, max_bytes)
        async for chunk in self._download(url, max_bytes):
            yield chunk

    async def _download_url(self, note: AudioNote, max_bytes: int) -> str:
        if note.size is not None and note.size > max_bytes:
            raise AudioTooLarge(_too_large(note.filename, note.size, max_bytes))
        file = await self._file_info(note.attachment_id)
        if file.size is not None and file.size > max_bytes:
            raise AudioTooLarge(_too_large(file.filename(), file.size, max_bytes))
        url = file.url_private_download or file.url_private
        if file.mode == "external":
            raise FetchFailed(EXTERNAL_FILE)
        if not url:
            raise FetchFailed("Slack gave no download link for the file")
        if not self.token_may_go_to(url):
            # The bot token opens every file of the workspace: it goes to Slack's file servers only.
            log.warning("not downloading %s: its link leads outside Slack", file.id)
            raise FetchFailed(EXTERNAL_FILE)
        return url

    def token_may_go_to(self, url: str) -> bool:
        """True for Slack's own file hosts over https (and the configured API base, which tests point at a
        fake). aiohttp drops the header itself on a redirect to another origin."""
        try:
            target = yarl.URL(url)
            if target.user is not None or target.password is not None:
                return False
            if target.origin() == yarl.URL(self.client.base_url).origin():
                return True
        except ValueError:
            return False
        host = (target.host or "").lower().rstrip(".")
        return target.scheme == "https" and target.port == 443 and any(
            host == domain or host.endswith("." + domain) for domain in SLACK_FILE_DOMAINS
        )

    async def _file_info(self, file_id: str) -> SlackFile:
        try:
            info = await self.client.files_info(file=file_id)
        except SlackApiError as e:
            raise api_failure(e, "the file") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise FetchUnavailable(f"Slack could not be reached ({type(e).__name__})") from e
        return SlackFile.model_validate(info["file"])

    # --- what a message holds --------------------------------------------------------------------
    async def resolve(self, note: AudioNote, *, include_video: bool) -> list[AudioNote]:
        """The notes behind an unresolved one: a file the event named only by id (`?F123`), or the whole
        message a reaction points at (`?`). Runs in the job, after the event was acked, with retries."""
        if note.attachment_id.startswith("?") and len(note.attachment_id) > 1:
            file = await self._file_info(note.attachment_id[1:])
            message = SlackMessage(ts=note.message_id, thread_ts=note.thread_id, user=note.author_id or None,
                                   files=[file])
        else:
            found = await self._message(note.channel_id, note.message_id)
            if found is None:
                return []
            message = await self._complete_files(found)
        return audio_notes(message, team_id=note.workspace_id, channel_id=note.channel_id, include_video=include_video)

    async def _message(self, channel: str, ts: str) -> SlackMessage | None:
        """The message at `ts`: in the channel's history, or else inside a thread."""
        window = {"channel": channel, "latest": ts, "oldest": ts, "inclusive": True}
        try:
            await self.pacing.history.acquire()
            found = await self.client.conversations_history(**window, limit=1)
            match = next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)
            if match is None:
                await self.pacing.replies.acquire()
                found = await self.client.conversations_replies(ts=ts, **window, limit=REPLIES_PAGE)
                match = next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)
        except SlackApiError as e:
            raise api_failure(e, "the message") from e
        return SlackMessage.model_validate(match) if match else None

    async def _complete_files(self, message: SlackMessage) -> SlackMessage:
        """Fill in files the message only names (`file_access: check_file_info`) from files.info."""
        if not any(f.incomplete for f in message.files):
            return message
        files = [await self._file_info(f.id) if f.incomplete else f for f in message.files]
        return message.model_copy(update={"files": files})

    async def _download(self, url: str, max_bytes: int) -> AsyncIterator[bytes]:
        session = self._http()
        headers = {"Authorization": f"Bearer {self.client.token}"}
        try:
            async with session.get(url, headers=headers) as resp:
                if resp.status in (401, 403):
                    raise FetchFailed(f"Slack refused the download (HTTP {resp.status}): the bot can't access this file")
                if is_retryable_status(resp.status):
                    raise FetchUnavailable(f"Slack's file server answered HTTP {resp.status}",
                                           retry_after=parse_retry_after(resp.headers))
                if resp.status != 200:
                    raise FetchFailed(f"Slack answered HTTP {resp.status} to the download")
                if resp.content_type == "text/html":
                    # Slack's answer when the token is missing or lacks `files:read`: a sign-in page.
                    raise FetchFailed("Slack sent a sign-in page instead of the file: the bot token needs files:read")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise AudioTooLarge(_too_large("the file", resp.content_length, max_bytes))
                received = 0
                async for chunk in resp.content.iter_chunked(DOWNLOAD_CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise AudioTooLarge(f"the file is over the {max_bytes / 1e6:.0f} MB limit")
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as e:
            # Timeouts, resets, refused connections: the CDN may well answer next time.
            raise FetchUnavailable(f"the download from Slack failed ({type(e).__name__})") from e

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._download_timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _too_large(name: str, size: int, max_bytes: int) -> str:
    return f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB"
