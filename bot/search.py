"""`/voxnote search <words>`: the best-matching notes of this channel, each as a highlighted snippet, who
posted it, when, and a link to it.

The store finds the notes; this turns its hits into the core's light markdown. How a person is named
and a message linked is the platform's business (`NoteLinks`, implemented by the Slack and Discord
platforms); without one (the console, the CLI) a hit names the ids as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.errors import CommandError
from bot.models import Platform
from storage.search_text import MARK_END, MARK_START, search_terms

if TYPE_CHECKING:
    from storage import Store, TranscriptHit

#: Notes one answer shows: a search answers a question, it is not an export.
MAX_HITS = 5
#: Characters of one snippet as shown (the store bounds it in words already; a word may be long): five
#: hits with their links fit one Discord message (2,000 characters).
MAX_SNIPPET_CHARS = 220
USAGE = "usage: `/voxnote search <words>`, e.g. `/voxnote search budget review`"

# Markdown that a transcript's words must not start on Slack or Discord (bold, italics, strike, code,
# spoilers, quotes): the snippet's only formatting is the bold of the matched words.
_MARKUP_CHARS = re.compile(r"[*_~`|>]")
_SPACES = re.compile(r"\s+")


@runtime_checkable
class NoteLinks(Protocol):
    """What a platform adds to a hit: a person as the platform writes one, and a link to a message."""

    def mention(self, user_id: str) -> str: ...

    def permalink(self, workspace_id: str, channel_id: str, message_id: str, thread_id: str | None) -> str | None: ...


def snippet_text(snippet: str) -> str:
    """A store's snippet as chat text: one line, no markdown of its own, the matched words in **bold**,
    at most MAX_SNIPPET_CHARS (a highlight cut short is closed)."""
    text = _SPACES.sub(" ", _MARKUP_CHARS.sub(" ", snippet)).strip()
    if len(text) > MAX_SNIPPET_CHARS:
        text = text[:MAX_SNIPPET_CHARS].rstrip() + "…"
    if text.count(MARK_START) > text.count(MARK_END):
        text += MARK_END
    # A highlight that hugs no word (markers around spaces) would print stray asterisks.
    text = re.sub(f"{MARK_START}\\s*{MARK_END}", " ", text)
    return text.replace(MARK_START, "**").replace(MARK_END, "**")


def describe_hit(number: int, hit: TranscriptHit, links: NoteLinks | None) -> str:
    who = (links.mention(hit.author_id) if links else hit.author_id) if hit.author_id else "someone"
    when = datetime.fromtimestamp(hit.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    link = links.permalink(hit.workspace_id, hit.channel_id, hit.message_id, hit.thread_id) if links else None
    where = link or f"message {hit.message_id}"
    return f"{number}. {snippet_text(hit.snippet)}\n     — {who}, {when} · {where}"


async def search_answer(
    store: Store, platform: Platform, workspace_id: str, channel_id: str, words: str,
    links: NoteLinks | None = None,
) -> str:
    """The answer to `/voxnote search <words>` in one channel: a person sees only notes of the channel
    they ask in (they are in it: the platform delivered their command from there)."""
    terms = search_terms(words)
    if not terms:
        raise CommandError(USAGE)
    shown = " ".join(terms).replace("`", "'")
    hits = await store.search_transcripts(
        words, platform=platform, workspace_id=workspace_id, channel_ids=[channel_id], limit=MAX_HITS
    )
    if not hits:
        return f"No stored transcript in this channel says `{shown}`."
    head = f"*{len(hits)} note{'s' if len(hits) != 1 else ''} in this channel matching* `{shown}`" + (
        " (the best ones)" if len(hits) == MAX_HITS else "")
    return "\n".join([head, *(describe_hit(n, h, links) for n, h in enumerate(hits, start=1))])
