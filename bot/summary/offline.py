"""The offline summariser: an automatic extract (key sentences, decisions, action items, open questions)
that needs no model, so voxnote gives a useful summary with nothing configured."""

from __future__ import annotations

import math
import re

from bot.summary import detect, textrank
from bot.summary.detect import Sentence
from bot.summary.meeting import Meeting
from bot.summary.models import ActionItem, Summary
from bot.summary.text import content_words, split_sentences

MIN_BULLETS, MAX_BULLETS = 3, 7
MIN_BULLET_WORDS = 5  # content words: shorter sentences are chit-chat ("Sounds good.")
_GENERIC_SPEAKER = re.compile(r"^Speaker \d+$|^Unknown speaker$")


def sentences_of(meeting: Meeting) -> list[Sentence]:
    """Every sentence with its speaker, turn and the time its first segment starts."""
    out: list[Sentence] = []
    for turn_no, turn in enumerate(meeting.turns()):
        pos = 0
        # Transcribers write both ' and ’; the phrasing rules expect the plain one.
        body = turn.text.replace("’", "'")
        for text in split_sentences(body):
            at = body.find(text[:20], pos)
            pos = at if at >= 0 else pos
            start = max((t for offset, t in turn.marks if offset <= pos), default=turn.start)
            out.append(Sentence(len(out), turn.speaker, start, text, turn_no))
            pos += len(text)
    return out


def known_names(meeting: Meeting) -> set[str]:
    """Speaker labels that are real names (set by users or note authors), to recognise them as owners."""
    return {u.speaker for u in meeting.utterances if u.speaker and not _GENERIC_SPEAKER.match(u.speaker)}


def _attributed(s: Sentence) -> str:
    return f"{s.speaker}: {s.text}" if s.speaker else s.text


def extract(meeting: Meeting) -> Summary:
    """Summarise without a model. CPU-bound: run it in a worker thread."""
    sentences = sentences_of(meeting)
    found = detect.find(sentences, known_names(meeting))
    used = found.used
    # Questions make poor key points: their answers carry the content.
    candidates = [
        s for s in sentences
        if s.index not in used and not s.text.endswith("?") and len(content_words(s.text)) >= MIN_BULLET_WORDS
    ]
    k = min(MAX_BULLETS, max(MIN_BULLETS, round(math.sqrt(len(candidates)))))
    picked = textrank.top_sentences([content_words(s.text) for s in candidates], k)
    items: list[ActionItem] = []
    seen: set[str] = set()
    for _, item in found.action_items:
        key = item.text.lower()
        if key not in seen:
            seen.add(key)
            items.append(item)
    return Summary(
        kind="extract",
        bullets=[_attributed(candidates[i]) for i in picked],
        decisions=[sentences[i].text for i in found.decisions],
        action_items=items,
        open_questions=[sentences[i].text for i in found.open_questions],
        speaking_time=meeting.speaking_time(),
        duration_s=round(meeting.duration, 2),
    )
