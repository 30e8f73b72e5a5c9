"""LLM summaries: the transcript as speaker-labelled lines, chunked within the context budget,
each chunk mapped to notes, the notes reduced to one Summary. Speaking time stays local."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.render import split_message
from bot.summary.chat import ChatClient, LLMBadAnswer
from bot.summary.meeting import Meeting
from bot.summary.models import ActionItem, Summary

MAP_CONCURRENCY = 3
TEMPERATURE = 0.2
T = TypeVar("T")

SYSTEM = (
    "You take notes of meetings from their transcripts. Answer with one JSON object and nothing else, with "
    "exactly these keys:\n"
    '  "summary": 2 to 4 sentences on what the meeting was about and its outcome,\n'
    '  "key_points": list of short strings, the most important facts and discussion points,\n'
    '  "decisions": list of strings, decisions the participants made,\n'
    '  "action_items": list of {"text": what to do, "owner": who does it or null, "due": when, as said, or null},\n'
    '  "open_questions": list of strings, questions left unanswered.\n'
    "Owners are speaker labels exactly as written in the transcript (e.g. \"Speaker 2\"), or a person's name "
    "when the transcript names who takes the task. Use empty lists when there is nothing to report. Only "
    "report what the transcript says; do not invent. Write in the language of the transcript."
)


def _str_list(value: Any) -> list[str]:
    """Models answer lists as strings, lists of strings, or lists of small objects: accept all three."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        value = [value]
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = next((item[k] for k in ("text", "point", "decision", "question", "description") if item.get(k)),
                        next((v for v in item.values() if isinstance(v, str) and v), ""))
        text = str(item).strip() if item is not None else ""
        if text:
            out.append(text)
    return out


def _pick(item: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip() and value.strip().lower() not in ("null", "none", "n/a", "unknown"):
            return value.strip()
    return None


class Notes(BaseModel):
    """What a model answers, read leniently (synonym keys, strings for lists)."""

    summary: str = ""
    key_points: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.summary or self.key_points or self.decisions or self.action_items or self.open_questions)

    @classmethod
    def from_answer(cls, data: dict[str, Any]) -> Notes:
        lowered = {str(k).lower().replace(" ", "_").replace("-", "_"): v for k, v in data.items()}
        summary = lowered.get("summary") or lowered.get("text") or lowered.get("overview") or ""
        if isinstance(summary, list):
            summary = " ".join(_str_list(summary))
        return cls(
            summary=summary.strip() if isinstance(summary, str) else "",
            key_points=_str_list(lowered.get("key_points") or lowered.get("bullets") or lowered.get("highlights")),
            decisions=_str_list(lowered.get("decisions")),
            action_items=lowered.get("action_items") or lowered.get("actions") or lowered.get("todos") or [],
            open_questions=_str_list(lowered.get("open_questions") or lowered.get("questions")),
        )

    @field_validator("action_items", mode="before")
    @classmethod
    def _items(cls, value: Any) -> list[ActionItem]:
        if isinstance(value, (str, dict)):
            value = [value]
        items: list[ActionItem] = []
        for item in value if isinstance(value, list) else []:
            if isinstance(item, str) and item.strip():
                items.append(ActionItem(text=item.strip()))
            elif isinstance(item, dict):
                text = _pick(item, "text", "task", "action", "item", "description", "title")
                if text:
                    owner = _pick(item, "owner", "assignee", "who", "speaker", "responsible")
                    due = _pick(item, "due", "deadline", "when", "due_date", "by")
                    items.append(ActionItem(text=text, owner=owner, due=due))
        return items


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def parse_json_object(answer: str) -> dict[str, Any]:
    """The first JSON object in an answer: inside code fences, after a preamble, before trailing text."""
    candidates = [m.group(1) for m in _FENCE.finditer(answer)] + [answer]
    decoder = json.JSONDecoder()
    for text in candidates:
        start = text.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = text.find("{", start + 1)
    raise LLMBadAnswer(f"the summary model did not answer with a JSON object: {answer[:200]!r}")


def chunk_lines(lines: list[str], limit: int) -> list[str]:
    """Pack lines, in order, into chunks of at most `limit` characters; an over-long turn is split at
    sentence boundaries, each piece keeping its speaker label."""
    limit = max(limit, 200)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        pieces = [line]
        if len(line) > limit:
            label, sep, text = line.partition(": ")
            prefix = f"{label}: " if sep and len(label) < 40 else ""
            body = text if prefix else line
            pieces = [prefix + p for p in split_message(body, limit - len(prefix))]
        for piece in pieces:
            if current and size + len(piece) + 1 > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


async def _all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in order; the first failure cancels the rest (no calls left running after a dead endpoint)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


def _notes_json(notes: Notes) -> str:
    return notes.model_dump_json(exclude_defaults=False)


async def _ask(llm: ChatClient, prompt: str) -> Notes:
    answer = await llm.complete(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        temperature=TEMPERATURE,
        json_object=True,
    )
    try:
        notes = Notes.from_answer(parse_json_object(answer))
    except ValidationError as exc:
        raise LLMBadAnswer(f"the summary model's JSON does not fit the notes: {exc.errors()[:1]}") from exc
    if notes.is_empty:
        raise LLMBadAnswer(f"the summary model's JSON has none of the notes' fields: {answer[:200]!r}")
    return notes


def whole_prompt(chunk: str, speakers: list[str]) -> str:
    who = f"The speakers are {', '.join(speakers)}.\n" if speakers else ""
    return f"Write notes for this meeting.\n{who}Transcript, one line per turn, in order:\n\n{chunk}"


def part_prompt(chunk: str, index: int, total: int) -> str:
    return (
        f"This is part {index} of {total} of one meeting transcript, one line per turn, in order. Write notes "
        f"for this part only; later parts may answer its questions.\n\n{chunk}"
    )


def reduce_prompt(parts: list[str], final: bool) -> str:
    body = "\n\n".join(f"Notes of part {i}:\n{p}" for i, p in enumerate(parts, 1))
    goal = "the whole meeting" if final else "these parts together"
    return (
        f"Below are notes from consecutive parts of one meeting, in order. Merge them into one set of notes for "
        f"{goal}: remove duplicates, keep every decision and action item, drop open questions that a later part "
        f"answers, and write one summary.\n\n{body}"
    )


async def _reduce(llm: ChatClient, notes: list[Notes], limit: int) -> Notes:
    """Merge notes in rounds, each call's input within `limit`, until one set is left."""
    while len(notes) > 1:
        texts = [_notes_json(n) for n in notes]
        batches: list[list[str]] = [[]]
        size = 0
        for text in texts:
            # At least two per batch, so every round shrinks the list even when notes are long.
            if len(batches[-1]) >= 2 and size + len(text) > limit:
                batches.append([])
                size = 0
            batches[-1].append(text)
            size += len(text)
        final = len(batches) == 1
        notes = await _all([
            _ask(llm, reduce_prompt(b, final)) if len(b) > 1 else _identity(b[0]) for b in batches
        ])
    return notes[0]


async def _identity(text: str) -> Notes:
    return Notes.model_validate_json(text)


async def llm_summary(meeting: Meeting, llm: ChatClient, context_chars: int) -> Summary:
    """Summarise with the model: one call when the transcript fits `context_chars`, map-reduce otherwise."""
    chunks = chunk_lines(meeting.lines(), context_chars)
    speakers = sorted({u.speaker for u in meeting.utterances if u.speaker})
    if len(chunks) == 1:
        notes = await _ask(llm, whole_prompt(chunks[0], speakers))
    else:
        gate = asyncio.Semaphore(MAP_CONCURRENCY)

        async def map_one(i: int, chunk: str) -> Notes:
            async with gate:
                return await _ask(llm, part_prompt(chunk, i, len(chunks)))

        partial = await _all([map_one(i, c) for i, c in enumerate(chunks, 1)])
        notes = await _reduce(llm, partial, context_chars)
    return Summary(
        kind="llm",
        text=notes.summary,
        bullets=notes.key_points,
        decisions=notes.decisions,
        action_items=notes.action_items,
        open_questions=notes.open_questions,
        speaking_time=meeting.speaking_time(),
        duration_s=round(meeting.duration, 2),
        model=llm.model,
    )
