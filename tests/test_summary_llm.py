"""LLM summaries against the fake chat server: prompts carry the transcript in order, map-reduce above the
context budget, retries, lenient JSON, and the fall back to the offline extract with a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.models import Segment, Transcript
from bot.retry import RetryPolicy
from bot.summary import ChatClient, summarize
from bot.summary.chat import LLMBadAnswer
from bot.summary.llm import Notes, chunk_lines, parse_json_object
from bot.summary.meeting import Meeting
from tests.fixtures.chat import FakeChat

DATA = Path(__file__).parent / "data" / "meeting"
FAST = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01, budget_s=5)


def meeting_transcript() -> Transcript:
    return Transcript.model_validate_json((DATA / "meeting.json").read_text())


def settings(**fields) -> Settings:
    return Settings(_env_file=None, mistral_api_key=None, **fields)


@pytest_asyncio.fixture(loop_scope="function")
async def llm(fake_chat: FakeChat):
    async with ChatClient(fake_chat.url, "k", "fake-small", retry=FAST) as client:
        yield client


# --- lenient reading of model answers ------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    '{"summary": "s", "key_points": ["a"]}',
    'Here are the notes:\n```json\n{"summary": "s", "key_points": ["a"]}\n```\nLet me know!',
    '```\n{"summary": "s", "key_points": ["a"]}\n```',
    'Sure! {"summary": "s", "key_points": ["a"]} I hope this helps {not json}',
    '{broken {"summary": "s", "key_points": ["a"]}',
])
def test_json_is_found_in_chatty_answers(answer):
    assert parse_json_object(answer) == {"summary": "s", "key_points": ["a"]}


def test_braces_inside_strings_do_not_confuse_the_parser():
    assert parse_json_object('{"summary": "use {curly} braces }", "x": 1}')["summary"] == "use {curly} braces }"


@pytest.mark.parametrize("answer", ["no json here", "[1, 2]", "{unterminated"])
def test_answers_without_an_object_are_bad(answer):
    with pytest.raises(LLMBadAnswer):
        parse_json_object(answer)


def test_notes_accept_the_shapes_models_produce():
    notes = Notes.from_answer({
        "Summary": ["One.", "Two."],
        "key points": "a single point",
        "decisions": [{"decision": "ship it"}, "", None],
        "action_items": [
            "send the deck",
            {"task": "fix CI", "assignee": "Speaker 2", "deadline": "Friday"},
            {"text": "call legal", "owner": "null", "due": None},
            {"owner": "nobody"},  # no text: dropped
        ],
        "questions": [{"question": "who pays?"}],
    })
    assert notes.summary == "One. Two."
    assert notes.key_points == ["a single point"]
    assert notes.decisions == ["ship it"]
    assert [(a.text, a.owner, a.due) for a in notes.action_items] == [
        ("send the deck", None, None), ("fix CI", "Speaker 2", "Friday"), ("call legal", None, None)]
    assert notes.open_questions == ["who pays?"]


# --- chunking --------------------------------------------------------------------------------------------
def test_chunks_keep_order_and_fit_the_budget():
    lines = Meeting.from_transcripts([meeting_transcript()]).lines()
    chunks = chunk_lines(lines, 1200)
    assert len(chunks) > 3
    assert all(len(c) <= 1200 for c in chunks)
    assert "\n".join(chunks).split("\n") == lines


def test_an_overlong_turn_is_split_and_keeps_its_speaker():
    long = "Speaker 1: " + " ".join(f"Sentence number {i} is here." for i in range(100))
    chunks = chunk_lines(["Speaker 2: hi", long, "Speaker 2: bye"], 500)
    assert all(len(c) <= 500 for c in chunks)
    pieces = "\n".join(chunks).split("\n")
    assert pieces[0] == "Speaker 2: hi" and pieces[-1] == "Speaker 2: bye"
    assert all(p.startswith("Speaker 1: Sentence number") for p in pieces[1:-1])
    assert " ".join(p.removeprefix("Speaker 1: ") for p in pieces[1:-1]) == long.removeprefix("Speaker 1: ")


# --- summarize through the LLM ---------------------------------------------------------------------------
async def test_one_call_when_the_transcript_fits(fake_chat: FakeChat, llm: ChatClient):
    transcript = meeting_transcript()
    summary = await summarize([transcript], settings(), llm)
    assert len(fake_chat.requests) == 1
    req = fake_chat.requests[0]
    assert req.model == "fake-small" and req.response_format == {"type": "json_object"}
    assert req.messages[0]["role"] == "system" and "JSON" in req.messages[0]["content"]
    lines = Meeting.from_transcripts([transcript]).lines()
    assert lines[0].startswith("Speaker 1: Hi everyone")
    positions = [req.user.index(line) for line in lines]
    assert positions == sorted(positions)  # every turn, in order
    assert summary.kind == "llm" and summary.model == "fake-small" and summary.note is None
    assert summary.text == f"A conversation of {len(lines)} turns."
    assert summary.bullets == [lines[0], lines[-1]]
    # Speaking time is measured, never asked of the model.
    assert summary.speaking_time == Meeting.from_transcripts([transcript]).speaking_time()
    assert "speaking" not in req.messages[0]["content"].lower()


async def test_map_reduce_above_the_context_budget(fake_chat: FakeChat, llm: ChatClient):
    transcript = meeting_transcript()
    lines = Meeting.from_transcripts([transcript]).lines()
    limit = 1500
    chunks = chunk_lines(lines, limit)
    assert len(chunks) >= 3
    summary = await summarize([transcript], settings(llm_context_chars=limit), llm)

    maps = [r for r in fake_chat.requests if not r.is_reduce]
    reduces = [r for r in fake_chat.requests if r.is_reduce]
    assert len(maps) == len(chunks) and len(reduces) >= 1
    # Each map call carries one chunk, and the chunks, in the order of their part numbers, are the meeting.
    by_part = sorted(maps, key=lambda r: int(r.user.split("This is part ")[1].split(" ")[0]))
    assert [chunk in r.user for r, chunk in zip(by_part, chunks)] == [True] * len(chunks)
    assert all(len(r.user) < limit + 400 for r in maps)  # prompt text + one chunk
    assert all(f"of {len(chunks)}" in r.user for r in maps)
    # The reduce saw every part's notes in order, and the final summary holds what every part found.
    final = reduces[-1].user
    assert "Notes of part 1:" in final and "the whole meeting" in final
    assert summary.kind == "llm"
    assert summary.bullets[0] == lines[0] and summary.bullets[-1] == lines[-1]
    said_ill = [line for line in lines if "I'll" in line]
    assert [f"{a.owner}: {a.text}" for a in summary.action_items] == said_ill


async def test_reduce_runs_in_rounds_when_notes_outgrow_the_budget(fake_chat: FakeChat, llm: ChatClient):
    transcript = meeting_transcript()
    lines = Meeting.from_transcripts([transcript]).lines()
    summary = await summarize([transcript], settings(llm_context_chars=600), llm)
    reduces = [r for r in fake_chat.requests if r.is_reduce]
    assert sum("the whole meeting" in r.user for r in reduces) == 1
    assert len(reduces) > 1  # intermediate rounds before the final merge
    assert summary.bullets[0] == lines[0] and summary.bullets[-1] == lines[-1]
    assert len(summary.action_items) == sum("I'll" in line for line in lines)


async def test_retries_inside_summarize(fake_chat: FakeChat, llm: ChatClient):
    fake_chat.reply_error(429, retry_after=0)
    fake_chat.reply_error(503)
    summary = await summarize([meeting_transcript()], settings(), llm)
    assert summary.kind == "llm" and summary.note is None
    assert len(fake_chat.requests) == 3


async def test_a_fenced_chatty_answer_still_makes_an_llm_summary(fake_chat: FakeChat, llm: ChatClient):
    notes = {"summary": "Release moved to April.", "key_points": ["Migration takes 40 min"],
             "decisions": ["Postpone the mobile release"],
             "action_items": [{"text": "Update the migration script", "owner": "Speaker 2", "due": "Thursday"}],
             "open_questions": ["Price of the enterprise tier?"]}
    fake_chat.reply_content(f"Here you go:\n```json\n{json.dumps(notes, indent=2)}\n```\nAnything else?")
    summary = await summarize([meeting_transcript()], settings(), llm)
    assert summary.kind == "llm" and summary.text == "Release moved to April."
    assert summary.decisions == ["Postpone the mobile release"]
    assert summary.action_items[0].owner == "Speaker 2" and summary.action_items[0].due == "Thursday"
    assert summary.open_questions == ["Price of the enterprise tier?"]


async def test_a_failing_server_falls_back_to_the_extract_with_a_note(fake_chat: FakeChat, llm: ChatClient):
    fake_chat.reply_error(500, "model crashed", times=100)
    summary = await summarize([meeting_transcript()], settings(), llm)
    assert summary.kind == "extract"
    assert summary.note and "AI summary failed" in summary.note and "unavailable" in summary.note
    assert summary.action_items and summary.speaking_time
    assert len(fake_chat.requests) == FAST.max_retries + 1


async def test_a_failure_in_one_map_call_falls_back(fake_chat: FakeChat, llm: ChatClient):
    fake_chat.responder = lambda r: None if "part 1 of" in r.user else _error()
    summary = await summarize([meeting_transcript()], settings(llm_context_chars=1500), llm)
    assert summary.kind == "extract" and summary.note


def _error():
    from tests.fixtures.chat import ChatReply

    return ChatReply(status=400, json={"object": "error", "message": "context too long"})


@pytest.mark.parametrize("content", ["I cannot summarise this.", '{"summary": 42, "action_items": 7}'])
async def test_unreadable_answers_fall_back(fake_chat: FakeChat, llm: ChatClient, content):
    fake_chat.reply_content(content, times=5)
    summary = await summarize([meeting_transcript()], settings(), llm)
    assert summary.kind == "extract"
    assert summary.note and "cannot read" in summary.note


async def test_a_rejected_key_falls_back_without_retrying(fake_chat: FakeChat, llm: ChatClient):
    fake_chat.api_key = "another key"
    summary = await summarize([meeting_transcript()], settings(), llm)
    assert summary.kind == "extract" and "rejected" in (summary.note or "")
    assert len(fake_chat.requests) == 1


async def test_without_a_client_the_extract_is_made_offline(fake_chat: FakeChat):
    summary = await summarize([meeting_transcript()], settings())
    assert summary.kind == "extract" and summary.note is None
    assert fake_chat.requests == []


async def test_a_thread_is_one_meeting_in_the_prompt(fake_chat: FakeChat, llm: ChatClient):
    first = Transcript(text="I'll start. Fine.", segments=[Segment(text="I'll start the deck.", start=0, end=2)])
    second = Transcript(text="Thanks.", segments=[Segment(text="Thanks, looks good.", start=0, end=1.5)])
    summary = await summarize([first, second], settings(), llm, authors=["Alice", "Bob"])
    user = fake_chat.requests[0].user
    assert user.index("Alice: I'll start the deck.") < user.index("Bob: Thanks, looks good.")
    assert "The speakers are Alice, Bob." in user
    assert [(t.speaker, t.seconds) for t in summary.speaking_time] == [("Alice", 2.0), ("Bob", 1.5)]
    assert summary.duration_s == 3.5


async def test_nothing_said_needs_no_model(fake_chat: FakeChat, llm: ChatClient):
    summary = await summarize([Transcript(text="")], settings(), llm)
    assert summary.is_empty and summary.note
    assert fake_chat.requests == []
