"""The slack-bolt `AsyncApp`: Slack events, the `/voxnote` command and the "Transcribe" shortcut,
translated into `core.submit` / `core.run_command` calls. Events ack once stored; commands ack first."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.platform import ChatPlatform
from adapters.slack.admins import SlackAdmins
from adapters.slack.dedup import SeenEvents
from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.notes import SlackMessage, audio_notes, message_note, unresolved_notes
from bot.core import CommandContext
from bot.errors import CommandError, NotAllowed, VoxnoteError
from bot.speakers import CONSENT_TTL_S, PendingEnrolment, Speakers
from bot.flags import slack_flag_language
from bot.models import AudioNote, Platform
from storage import Store

log = logging.getLogger(__name__)

COMMAND = "/voxnote"
SHORTCUT_CALLBACK_ID = "voxnote_transcribe"
# Slash commands cannot be used in threads on Slack (their payload names no thread), so a thread is
# summarised from a message shortcut on any of its messages.
SUMMARIZE_CALLBACK_ID = "voxnote_summarize"
# An admin names a person's voice from one of their notes; the person answers with these buttons.
ENROL_CALLBACK_ID = "voxnote_enrol"
CONSENT_YES = "voxnote_consent_yes"
CONSENT_NO = "voxnote_consent_no"
# Reacting with one of these on a voice note asks for a transcript (useful when auto is off).
TRIGGER_REACTIONS = frozenset({"memo", "pencil"})
# ... and with this one for its English translation too.
TRANSLATE_REACTION = "globe_with_meridians"

NO_MEDIA = "There is no audio or video in this message to transcribe."
SUBMITTED = "Transcribing: the text will appear in the message's thread."
ALREADY = "This note is already transcribed or on its way: see its thread."


class Core(Protocol):
    """The part of `bot.core.Voxnote` the Slack adapter calls."""

    #: The store the core keeps its jobs in; replicas on PostgreSQL share rate budgets through it.
    store: Store

    async def submit(self, note: AudioNote, platform: ChatPlatform, on_demand: bool = False) -> bool: ...

    async def run_command(self, ctx: CommandContext, text: str) -> str: ...

    def register(self, platform: ChatPlatform, kind: Platform) -> None: ...

    async def remember(self, notes: list[AudioNote]) -> None: ...

    async def remembered(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> list[AudioNote]: ...

    async def message_deleted(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> int: ...

    speakers: Speakers

    async def enrol(self, ctx: CommandContext, note: AudioNote, platform: ChatPlatform, *, name: str,
                    user_id: str) -> PendingEnrolment: ...


@runtime_checkable
class SlackPlatformLike(ChatPlatform, Protocol):
    """What enrolling a voice needs of the Slack platform beyond the core's port."""

    async def display_name(self, user_id: str) -> str: ...

    async def post_blocks(self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]]) -> str: ...

    async def replace_blocks(self, channel: str, ts: str, text: str) -> None: ...


class SlackListeners:
    """The work behind each listener, kept apart from bolt's wiring so each reads on its own."""

    def __init__(self, core: Core, platform: ChatPlatform, admins: SlackAdmins) -> None:
        # No Web API client here: look-ups happen in the platform, inside jobs, never before an ack.
        self.core = core
        self.platform = platform
        self.admins = admins
        self.seen = SeenEvents()

    async def _once(self, body: dict[str, Any], handle: Callable[[], Awaitable[None]]) -> None:
        """Handle an event unless a delivery of it was already handled (Slack retry, Socket Mode
        redelivery). It counts as handled only once `handle` returned, i.e. its notes are stored: a
        failure leaves the event unacked and unmarked, so Slack's redelivery is handled for real."""
        event_id = str(body.get("event_id") or "")
        if not event_id:
            await handle()
        elif not await self.seen.handle_once(event_id, handle):
            log.info("skipping repeated delivery of %s", event_id)

    async def on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._once(body, lambda: self._on_message(event, body))

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("subtype") == "message_deleted":
            team_id = str(body.get("team_id") or "")
            await self.core.message_deleted(Platform.slack, team_id, event.get("channel") or "",
                                            str(event.get("deleted_ts") or ""))
            return
        message = SlackMessage.model_validate(event)
        if not message.from_person or not message.files:
            return
        channel = event.get("channel") or ""
        team_id = str(body.get("team_id") or message.team or "")
        # Kept for a later reaction or shortcut (video included), so those need no history call.
        await self.core.remember(audio_notes(message, team_id=team_id, channel_id=channel, include_video=True))
        notes = audio_notes(message, team_id=team_id, channel_id=channel)
        for note in [*notes, *unresolved_notes(message, team_id=team_id, channel_id=channel)]:
            await self.core.submit(note, self.platform)

    async def on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._once(body, lambda: self._on_reaction(event, body))

    async def _on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """No Web API call here: the event is acked once the job is stored. A message the bot never saw
        becomes an unresolved note, which the job looks up (rate-limited calls belong there)."""
        item = event.get("item") or {}
        reaction = str(event.get("reaction") or "")
        # A flag (:fr:, :flag-de:) asks for the note again in that country's language, in its reply.
        language = slack_flag_language(reaction)
        translate = reaction == TRANSLATE_REACTION
        if (reaction not in TRIGGER_REACTIONS and language is None and not translate) or item.get("type") != "message":
            return
        channel, ts = item.get("channel", ""), item.get("ts", "")
        team_id = str(body.get("team_id") or "")
        notes = await self.core.remembered(Platform.slack, team_id, channel, ts)
        if not notes:
            notes = [message_note(team_id=team_id, channel_id=channel, ts=ts)]
        for note in notes:
            if language is not None or translate:
                note = note.model_copy(update={"language": language, "translate": translate})
            await self.core.submit(note, self.platform, on_demand=True)

    async def on_shortcut(self, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        channel = (shortcut.get("channel") or {}).get("id", "")
        team_id = (shortcut.get("team") or {}).get("id", "")
        message = SlackMessage.model_validate(shortcut.get("message") or {})
        notes = [*audio_notes(message, team_id=team_id, channel_id=channel, include_video=True),
                 *unresolved_notes(message, team_id=team_id, channel_id=channel)]
        if not notes:
            await respond(text=NO_MEDIA, response_type="ephemeral")
            return
        submitted = [await self.core.submit(note, self.platform, on_demand=True) for note in notes]
        await respond(text=SUBMITTED if any(submitted) else ALREADY, response_type="ephemeral")

    async def on_summarize(self, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        message = shortcut.get("message") or {}
        user_id = (shortcut.get("user") or {}).get("id", "")
        ctx = CommandContext(
            platform=Platform.slack,
            workspace_id=(shortcut.get("team") or {}).get("id", ""),
            channel_id=(shortcut.get("channel") or {}).get("id", ""),
            user_id=user_id,
            is_admin=False,  # reading a summary changes nothing
            thread_id=message.get("thread_ts") or message.get("ts"),
        )
        await self._answer(respond, ctx, "summarize")

    async def on_enrol(self, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        """"Enrol this voice" on a note: the note's author is the person, named as the workspace names
        them; they are asked in the note's thread, and only their own click stores the voice."""
        admin = (shortcut.get("user") or {}).get("id", "")
        channel = (shortcut.get("channel") or {}).get("id", "")
        team_id = (shortcut.get("team") or {}).get("id", "")
        message = SlackMessage.model_validate(shortcut.get("message") or {})
        ctx = CommandContext(platform=Platform.slack, workspace_id=team_id, channel_id=channel, user_id=admin,
                             is_admin=await self.admins.is_admin(admin))
        notes = audio_notes(message, team_id=team_id, channel_id=channel)
        platform = self.platform
        try:
            if not ctx.is_admin:
                raise NotAllowed("only admins can enrol a voice here")
            if not notes or not message.user:
                raise CommandError("there is no voice note of a person in this message to enrol")
            if not isinstance(platform, SlackPlatformLike):
                raise CommandError("enrolling voices is not available here")
            name = await platform.display_name(message.user)
            pending = await self.core.enrol(ctx, notes[0], platform, name=name, user_id=message.user)
        except VoxnoteError as e:
            await respond(text=to_mrkdwn(f":warning: {e.detail}"), response_type="ephemeral")
            return
        minutes = round(CONSENT_TTL_S / 60)
        text = (f"<@{message.user}>, <@{admin}> asks to enrol your voice as *{to_mrkdwn(pending.voice.name)}*: "
                "transcripts with speaker labels in this workspace would then name you. voxnote keeps a voiceprint "
                "(numbers, not audio) until you or an admin remove it (`/voxnote speaker remove`). "
                f"Only you can answer; this request expires in {minutes} minutes.")
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": CONSENT_YES, "value": pending.id, "style": "primary",
                 "text": {"type": "plain_text", "text": "Yes, use my voice"}},
                {"type": "button", "action_id": CONSENT_NO, "value": pending.id,
                 "text": {"type": "plain_text", "text": "No"}},
            ]},
        ]
        await platform.post_blocks(channel, message.thread_ts or message.ts, text, blocks)
        await respond(text=to_mrkdwn(f"Asked {pending.voice.name} to confirm in the note's thread; nothing is "
                                     "kept until they do."), response_type="ephemeral")

    async def on_consent(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A click on the consent request: only the person asked may answer; anyone else is told so."""
        [action] = body.get("actions") or [{}]
        user_id = (body.get("user") or {}).get("id", "")
        try:
            answer = await self.core.speakers.answer(str(action.get("value") or ""), user_id,
                                                     accept=action.get("action_id") == CONSENT_YES)
        except VoxnoteError as e:
            await respond(text=to_mrkdwn(f":warning: {e.detail}"), response_type="ephemeral", replace_original=False)
            return
        container = body.get("container") or {}
        if isinstance(self.platform, SlackPlatformLike):
            await self.platform.replace_blocks(str(container.get("channel_id") or ""),
                                               str(container.get("message_ts") or ""), answer)

    async def on_command(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        user_id = command.get("user_id", "")
        ctx = CommandContext(
            platform=Platform.slack,
            workspace_id=command.get("team_id", ""),
            channel_id=command.get("channel_id", ""),
            user_id=user_id,
            is_admin=await self.admins.is_admin(user_id),
        )
        await self._answer(respond, ctx, command.get("text", ""))

    async def _answer(self, respond: AsyncRespond, ctx: CommandContext, text: str) -> None:
        """Run a command and answer only the person who asked."""
        try:
            reply = await self.core.run_command(ctx, text)
        except VoxnoteError as e:
            reply = e.detail
        await respond(text=to_mrkdwn(reply, user_mentions=True), response_type="ephemeral")


def build_app(
    core: Core, platform: ChatPlatform, client: AsyncWebClient, *, admins: list[str], signing_secret: str = ""
) -> AsyncApp:
    """An `AsyncApp` with voxnote's listeners; bolt verifies signatures (HTTP mode) and acks."""
    # Events are acked only once their listener returns, i.e. once the note is a durable job: a crash
    # before that leaves the event unacked, and Slack redelivers it. Commands and shortcuts ack at once
    # and do their work in lazy listeners, so a slow summary never misses Slack's 3-second deadline.
    app = AsyncApp(client=client, signing_secret=signing_secret, name="voxnote", process_before_response=True)
    listeners = SlackListeners(core, platform, SlackAdmins(client, admins))
    app.event("message")(listeners.on_message)
    app.event("reaction_added")(listeners.on_reaction)
    app.message_shortcut(SHORTCUT_CALLBACK_ID)(ack=_ack, lazy=[listeners.on_shortcut])
    app.message_shortcut(SUMMARIZE_CALLBACK_ID)(ack=_ack, lazy=[listeners.on_summarize])
    app.message_shortcut(ENROL_CALLBACK_ID)(ack=_ack, lazy=[listeners.on_enrol])
    app.action(CONSENT_YES)(ack=_ack, lazy=[listeners.on_consent])
    app.action(CONSENT_NO)(ack=_ack, lazy=[listeners.on_consent])
    app.command(COMMAND)(ack=_ack, lazy=[listeners.on_command])
    return app


async def _ack(ack: AsyncAck) -> None:
    await ack()
