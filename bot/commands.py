"""`/voxnote ...` parsing and execution, shared by every platform.

Adapters pass the text after `/voxnote` and say whether the user may change settings; the answer is
plain text with light markdown that reads well on Slack and Discord alike."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.errors import CommandError, NotAllowed
from bot.models import MAX_BIAS_PHRASES, ChannelSettings, Platform, normalize_bias, parse_languages
from bot.search import NoteLinks, search_answer

if TYPE_CHECKING:
    from storage import Store

HELP = """*voxnote* turns voice notes in this channel into text, live, in the note's thread.
`/voxnote settings` show this channel's settings
`/voxnote language <code…|auto>` e.g. `en`; `en fr` detects among those; `auto` detects any
`/voxnote bias add <phrase>, <phrase>…` names and jargon to favour (`remove`, `list`, `clear`)
`/voxnote diarize on|off` label speakers
`/voxnote timestamps on|off` show when each part was said
`/voxnote translate on|off` add an English translation under notes in other languages (or react with 🌐)
`/voxnote auto on|off` transcribe every voice note, or only on request (react with :memo: or use "Transcribe")
`/voxnote summary <minutes|off>` summarise notes longer than this
`/voxnote summarize` summarise every transcript in this thread so far
`/voxnote search <words>` find this channel's notes that say these words (only you see the answer)
`/voxnote speaker list` enrolled voices that name speakers here (`remove <name>`; enrol with "Enrol this voice" on a person's note)
`/voxnote forget` delete this channel's stored transcripts and the voices enrolled from it
React to a note with a country's flag to have it again in that language, in the same reply.
Changing settings needs channel admin rights."""

@dataclass(frozen=True)
class CommandContext:
    """Who asked, where, and whether they may change settings (decided by the adapter)."""

    platform: Platform
    workspace_id: str
    channel_id: str
    user_id: str
    is_admin: bool
    thread_id: str | None = None


def _on_off(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("on", "true", "yes", "1", "enable", "enabled"):
        return True
    if v in ("off", "false", "no", "0", "disable", "disabled"):
        return False
    raise CommandError(f"`{name}` takes `on` or `off`, not `{value}`")


def _phrases(text: str) -> list[str]:
    """Phrases separated by commas or newlines; quotes keep spaces inside one phrase."""
    if "," in text or "\n" in text:
        return [p.strip().strip("\"'") for p in re.split(r"[,\n]", text) if p.strip()]
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def describe(settings: ChannelSettings) -> str:
    bias = ", ".join(settings.context_bias) if settings.context_bias else "none"
    summary = "off" if settings.summary_threshold_s is None else f"notes over {settings.summary_threshold_s / 60:g} min"
    return "\n".join(
        [
            "*voxnote settings for this channel*",
            f"• language: {settings.describe_language()}",
            f"• vocabulary bias: {bias}",
            f"• speaker labels: {'on' if settings.diarize else 'off'}",
            f"• timestamps: {'on' if settings.timestamps else 'off'}",
            f"• English translation: {'on' if settings.translate else 'off (react with 🌐 on a note)'}",
            f"• auto-transcribe: {'on' if settings.auto_transcribe else 'off (react with :memo: to transcribe)'}",
            f"• summaries: {summary}",
        ]
    )


async def run_command(store: Store, ctx: CommandContext, text: str, links: NoteLinks | None = None) -> str:
    """Execute one command and return the reply; bad arguments raise `CommandError`, refusals `NotAllowed`.
    `links` is how the platform names people and links messages (search results)."""
    words = text.strip().split(maxsplit=1)
    name = words[0].lower() if words else "help"
    arg = words[1].strip() if len(words) > 1 else ""
    current = await store.get_settings(ctx.platform, ctx.workspace_id, ctx.channel_id)

    if name in ("help", "?"):
        return HELP
    if name in ("settings", "show", "status"):
        return describe(current)
    if name in ("search", "find"):  # reading: anyone in the channel may
        return await search_answer(store, ctx.platform, ctx.workspace_id, ctx.channel_id, arg, links)
    if name in ("speaker", "speakers", "voice", "voices"):
        return await _speaker_command(store, ctx, arg)
    if name == "bias" and (not arg or arg.split()[0].lower() == "list"):
        return "Vocabulary bias: " + (", ".join(current.context_bias) if current.context_bias else "none")

    if name not in ("language", "lang", "bias", "diarize", "timestamps", "translate", "auto", "summary", "reset",
                    "forget"):
        raise CommandError(f"unknown command `{name}`; try `/voxnote help`")
    if not ctx.is_admin:
        raise NotAllowed("only channel admins can change voxnote's settings here")

    if name == "forget":
        voices = [v.name for v in await store.list_voiceprints(ctx.platform, ctx.workspace_id)
                  if v.channel_id == ctx.channel_id]
        removed = await store.forget_channel(ctx.platform, ctx.workspace_id, ctx.channel_id)
        reply = f"Deleted {removed} stored transcript{'s' if removed != 1 else ''} of this channel"
        if voices:
            reply += f" and the enrolled voice{'s' if len(voices) != 1 else ''} of {', '.join(voices)}"
        return reply + "."
    if name == "reset":
        await store.reset_settings(ctx.platform, ctx.workspace_id, ctx.channel_id)
        return "Settings reset to the defaults.\n" + describe(ChannelSettings())

    update: dict[str, object] = {}
    if name in ("language", "lang"):
        if not arg:
            raise CommandError("usage: `/voxnote language <code…|auto>`, e.g. `/voxnote language en` or `en fr`")
        try:
            codes = parse_languages(arg)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        # One code skips detection; several restrict it to them (short notes are where free detection
        # goes wrong most); none is auto-detect among every language.
        update["language"] = codes[0] if len(codes) == 1 else None
        update["languages"] = codes if len(codes) > 1 else []
        if len(codes) > 1:
            reply = f"Language detected among {', '.join(codes)}."
        else:
            reply = f"Language set to {update['language'] or 'auto-detect'}."
    elif name == "bias":
        action, _, rest = arg.partition(" ")
        action = action.lower()
        phrases = _phrases(rest)
        if action == "clear":
            update["context_bias"] = []
            reply = "Vocabulary bias cleared."
        elif action in ("add", "remove", "rm", "del") and not phrases:
            raise CommandError(f"usage: `/voxnote bias {action} <phrase>, <phrase>…`")
        elif action == "add":
            try:
                merged = normalize_bias(current.context_bias + phrases)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            update["context_bias"] = merged
            reply = f"Vocabulary bias ({len(merged)}/{MAX_BIAS_PHRASES}): " + ", ".join(merged)
        elif action in ("remove", "rm", "del"):
            drop = {p.lower() for p in phrases}
            kept = [p for p in current.context_bias if p.lower() not in drop]
            update["context_bias"] = kept
            reply = "Vocabulary bias: " + (", ".join(kept) if kept else "none")
        else:
            raise CommandError("usage: `/voxnote bias add|remove|list|clear <phrases>`")
    elif name in ("diarize", "timestamps", "translate", "auto"):
        if not arg:
            raise CommandError(f"usage: `/voxnote {name} on|off`")
        value = _on_off(arg, name)
        field = {"diarize": "diarize", "timestamps": "timestamps", "translate": "translate",
                 "auto": "auto_transcribe"}[name]
        update[field] = value
        label = {"diarize": "Speaker labels", "timestamps": "Timestamps", "translate": "English translation",
                 "auto": "Auto-transcribe"}[name]
        reply = f"{label} {'on' if value else 'off'}."
    else:  # summary
        if arg.lower() in ("off", "none", "never"):
            update["summary_threshold_s"] = None
            reply = "Summaries off."
        else:
            try:
                minutes = float(arg.split()[0].rstrip("m"))
            except (ValueError, IndexError):
                raise CommandError("usage: `/voxnote summary <minutes|off>`, e.g. `/voxnote summary 2`") from None
            if not 0 <= minutes <= 24 * 60:
                raise CommandError("the summary threshold must be between 0 and 1440 minutes")
            update["summary_threshold_s"] = minutes * 60
            reply = f"Notes longer than {minutes:g} min get a summary."

    try:
        new = ChannelSettings.model_validate({**current.model_dump(), **update})
    except ValidationError as exc:
        raise CommandError(exc.errors()[0]["msg"]) from None
    await store.set_settings(ctx.platform, ctx.workspace_id, ctx.channel_id, new, by=ctx.user_id)
    return reply


ENROL_HINT = ('to enrol a voice, an admin uses "Enrol this voice" on a voice note of that person '
              "(Slack: the message shortcut; Discord: Apps → Enrol this voice); the person then confirms")


async def _speaker_command(store: Store, ctx: CommandContext, arg: str) -> str:
    """`speaker list|remove <name>`: anyone sees who is enrolled (the people concerned must be able to
    know); an admin, or the person themselves, removes a voice."""
    action, _, rest = arg.partition(" ")
    action, rest = action.lower() or "list", " ".join(rest.split())
    if action == "list":
        voices = await store.list_voiceprints(ctx.platform, ctx.workspace_id)
        if not voices:
            return f"No enrolled voices in this workspace; {ENROL_HINT}."
        lines = [f"• {v.name}: enrolled by user {v.enrolled_by} on "
                 f"{datetime.fromtimestamp(v.created_at, UTC):%Y-%m-%d}, confirmed by "
                 f"user {v.consented_by}" for v in voices]
        return "*Enrolled voices (they name speakers in this workspace's transcripts)*\n" + "\n".join(lines)
    if action in ("remove", "rm", "delete", "forget"):
        if not rest:
            raise CommandError("usage: `/voxnote speaker remove <name>`")
        by_name = {v.name.casefold(): v for v in await store.list_voiceprints(ctx.platform, ctx.workspace_id)}
        voice = by_name.get(rest.casefold())
        if voice is None:
            raise CommandError(f"no voice is enrolled as `{rest}`; see `/voxnote speaker list`")
        if not ctx.is_admin and ctx.user_id != voice.user_id:
            raise NotAllowed("only admins, or the person themselves, can remove an enrolled voice")
        await store.remove_voiceprint(ctx.platform, ctx.workspace_id, voice.name)
        return f"Removed the voice of {voice.name}: later transcripts no longer name them."
    if action == "add":
        raise CommandError(ENROL_HINT)
    raise CommandError("usage: `/voxnote speaker list|remove <name>`")
