"""Transcript search in the stores, on real databases: every test runs on a SQLite file and, with
VOXNOTE_TEST_DATABASE_URL set, on PostgreSQL (tests/fixtures/stores.py).

What a person types must never break or steer the query; the index must forget with the transcripts
(retention, `/voxnote forget`, a deleted message, a new text); existing transcripts are back-filled."""

import time

import aiosqlite
import psycopg
import pytest

from bot.models import AudioNote, Platform, Segment, Transcript
from storage import open_store
from storage.migrations import MIGRATIONS, POSTGRES_MIGRATIONS
from storage.search_text import MARK_END, MARK_START, search_terms


def note(mid: str, channel: str = "c", ws: str = "w", author: str = "U1",
         platform: Platform = Platform.slack) -> AudioNote:
    return AudioNote(platform=platform, workspace_id=ws, channel_id=channel, message_id=mid,
                     attachment_id="F" + mid, filename="a.ogg", author_id=author)


def said(text: str) -> Transcript:
    return Transcript(text=text, language="en", segments=[Segment(text=text, start=0, end=1)])


async def found(store, words: str, channels: list[str] | None = ["c"], **kw) -> list[str]:
    hits = await store.search_transcripts(words, platform=Platform.slack, workspace_id="w", channel_ids=channels, **kw)
    return [h.message_id for h in hits]


async def index_rows(backend, word: str) -> int:
    """Rows the index itself still holds for `word` (not the transcripts joined to it): an index entry
    left behind by a delete would show here even though a search joined to the rows hides it."""
    if backend.name == "sqlite":
        return await backend.value("SELECT count(*) FROM transcripts_fts WHERE transcripts_fts MATCH ?", f'"{word}"')
    return await backend.value("SELECT count(*) FROM transcripts WHERE search_doc @@ to_tsquery('simple', ?)", word)


async def test_a_note_is_found_by_its_words_with_who_when_and_a_highlight(store):
    before = time.time()
    await store.save_transcript(note("m1", author="U7"), said("The quarterly budget review moves to Thursday."))
    await store.save_transcript(note("m2"), said("Lunch is at noon."))
    [hit] = await store.search_transcripts("budget thursday", platform=Platform.slack, workspace_id="w",
                                           channel_ids=["c"])
    assert (hit.message_id, hit.channel_id, hit.author_id, hit.platform) == ("m1", "c", "U7", Platform.slack)
    assert hit.created_at >= before - 1
    assert f"{MARK_START}budget{MARK_END}" in hit.snippet and f"{MARK_START}Thursday{MARK_END}" in hit.snippet
    assert hit.job_key == note("m1").idempotency_key
    assert await found(store, "budget lunch") == []  # every word must be in the note


async def test_only_the_channels_asked_for_are_searched(store):
    await store.save_transcript(note("here"), said("deploy the release tonight"))
    await store.save_transcript(note("there", channel="c2"), said("deploy the release tomorrow"))
    await store.save_transcript(note("elsewhere", ws="w2"), said("deploy the release later"))
    await store.save_transcript(note("discord", platform=Platform.discord), said("deploy the release now"))
    assert await found(store, "deploy") == ["here"]
    assert sorted(await found(store, "deploy", ["c", "c2"])) == ["here", "there"]
    assert await found(store, "deploy", []) == []
    everywhere = await store.search_transcripts("deploy")  # the operator's CLI: no scope at all
    assert sorted(h.message_id for h in everywhere) == ["discord", "elsewhere", "here", "there"]


async def test_accents_and_case_do_not_matter(store):
    await store.save_transcript(note("m1"), said("On se retrouve au Café de la Gare"))
    assert await found(store, "cafe") == ["m1"]
    assert await found(store, "CAFÉ gare") == ["m1"]
    await store.save_transcript(note("m2"), said("the cafe is closed"))
    assert sorted(await found(store, "café")) == ["m1", "m2"]


@pytest.mark.parametrize("typed", [
    '"', '""', '"budget', "budget*", "*", "NEAR(budget review)", "budget NEAR review", "-budget", "budget -review",
    "body:budget", "translation:budget", "budget OR lunch", "budget AND NOT review", "(budget", "budget)",
    "^budget", "budget +", "{budget}", "'; DROP TABLE transcripts; --", "budget\x00", "a" * 5000,
])
async def test_query_syntax_in_the_words_is_plain_words(store, typed):
    await store.save_transcript(note("m1"), said("The budget review, OR not: that is the question"))
    hits = await found(store, typed)  # never raises
    words = search_terms(typed)
    if words and all(w.strip("*()^+{}-'\"").lower() in ("budget", "review", "or", "not") for w in words):
        assert hits == ["m1"], typed
    assert await found(store, "budget") == ["m1"]  # and the table is still there


async def test_operators_are_not_operators(store):
    await store.save_transcript(note("m1"), said("budget review"))
    await store.save_transcript(note("m2"), said("lunch menu"))
    assert await found(store, "budget OR lunch") == []  # `OR` is a word to find, not a union
    assert await found(store, "-review budget") == ["m1"]  # `-` does not exclude
    assert await found(store, "budget NOT review") == []


async def test_nothing_searchable_finds_nothing(store):
    await store.save_transcript(note("m1"), said("anything at all"))
    for typed in ("", "   ", '"" -- * :', "\n\t"):
        assert await found(store, typed) == []


async def test_results_are_capped_best_first_and_snippets_bounded(store):
    long_text = " ".join(["filler"] * 2000 + ["needle"] + ["filler"] * 2000)
    await store.save_transcript(note("long"), said(long_text))
    for i in range(8):
        await store.save_transcript(note(f"m{i}"), said("needle " * (i + 1) + "and a short haystack"))
    hits = await store.search_transcripts("needle", platform=Platform.slack, workspace_id="w", channel_ids=["c"])
    assert len(hits) == 5
    assert all(len(h.snippet) < 400 for h in hits)
    assert len(await found(store, "needle", limit=2)) == 2
    [hit] = [h for h in await store.search_transcripts("needle", limit=20) if h.message_id == "long"]
    assert f"{MARK_START}needle{MARK_END}" in hit.snippet and len(hit.snippet) < 400
    assert "m7" in await found(store, "needle")  # the note saying it most ranks among the best


async def test_the_translation_is_searched_and_goes_with_its_text(store):
    key = note("m1").idempotency_key
    await store.save_transcript(note("m1"), said("Nos vemos mañana en la oficina"))
    await store.save_translation(key, "See you tomorrow at the office")
    assert await found(store, "tomorrow office") == ["m1"]
    assert await found(store, "manana") == ["m1"]
    await store.save_transcript(note("m1"), said("Nos vemos mañana en la oficina"))  # same text: kept
    assert await found(store, "tomorrow") == ["m1"]
    await store.save_transcript(note("m1"), said("Hasta luego"))  # a new text: the old words are gone
    assert await found(store, "tomorrow") == [] and await found(store, "manana") == []
    assert await found(store, "luego") == ["m1"]


async def test_retention_drops_notes_from_the_index(store, backend):
    await store.save_transcript(note("m1"), said("retention keyword"))
    assert await found(store, "keyword") == ["m1"]
    assert await store.purge_transcripts(older_than_days=1) == 0
    assert await found(store, "keyword") == ["m1"]
    await store.purge_transcripts(older_than_days=-1)
    assert await found(store, "keyword") == []
    assert await index_rows(backend, "keyword") == 0


async def test_forget_drops_the_channel_from_the_index(store, backend):
    await store.save_transcript(note("m1"), said("forgettable keyword"))
    await store.save_transcript(note("m2", channel="c2"), said("kept keyword"))
    assert await store.forget_channel(Platform.slack, "w", "c") == 1
    assert await found(store, "keyword") == []
    assert await found(store, "keyword", ["c2"]) == ["m2"]
    assert await index_rows(backend, "forgettable") == 0


async def test_a_deleted_message_drops_from_the_index(store, backend):
    await store.save_transcript(note("m_1"), said("deleted keyword"))
    await store.save_transcript(note("mx1"), said("surviving keyword"))
    await store.forget_message(Platform.slack, "w", "c", "m_1")
    assert await found(store, "keyword") == ["mx1"]
    assert await index_rows(backend, "deleted") == 0
    if backend.name == "sqlite":  # the external-content index agrees with its table, row for row
        await backend.value("INSERT INTO transcripts_fts(transcripts_fts, rank) VALUES ('integrity-check', 1)")


async def test_transcripts_stored_before_the_index_are_back_filled(backend):
    """A database at the schema before search, with a transcript and its job: the migration indexes it."""
    old_note = note("old", author="U9")
    transcript = said("Legacy déjà-vu keyword from before the upgrade")
    now = time.time()
    job = (old_note.idempotency_key, "slack", "w", old_note.model_dump_json(), now, now)
    row = (old_note.idempotency_key, "slack", "w", "c", "old", "old", transcript.model_dump_json(), now)
    # The schema just before the search migration (found by what it creates: other branches may append
    # migrations after it, and the numbers are settled at merge).
    before = next(i for i, m in enumerate(MIGRATIONS if backend.name == "sqlite" else POSTGRES_MIGRATIONS)
                  if "transcripts_fts" in m or "search_doc" in m)
    if backend.name == "sqlite":
        async with aiosqlite.connect(backend.db_path) as db:
            for number, script in enumerate(MIGRATIONS[:before], start=1):
                await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
            await db.execute("INSERT INTO jobs (key, platform, workspace_id, note, created_at, updated_at)"
                             " VALUES (?,?,?,?,?,?)", job)
            await db.execute("INSERT INTO transcripts (job_key, platform, workspace_id, channel_id, thread_id,"
                             " message_id, data, created_at) VALUES (?,?,?,?,?,?,?,?)", row)
            await db.commit()
    else:
        async with await psycopg.AsyncConnection.connect(backend.database_url, autocommit=True) as conn:
            for script in POSTGRES_MIGRATIONS[:before]:
                await conn.execute(script)
            await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            await conn.execute("INSERT INTO schema_version VALUES (%s)", (before,))
            await conn.execute("INSERT INTO jobs (key, platform, workspace_id, note, created_at, updated_at)"
                               " VALUES (%s,%s,%s,%s,%s,%s)", job)
            await conn.execute("INSERT INTO transcripts (job_key, platform, workspace_id, channel_id, thread_id,"
                               " message_id, data, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", row)
    store = await open_store(backend.db_path, backend.database_url)
    try:
        [hit] = await store.search_transcripts("legacy deja-vu", platform=Platform.slack, workspace_id="w",
                                               channel_ids=["c"])
        assert (hit.message_id, hit.author_id) == ("old", "U9")
        assert MARK_START + "Legacy" + MARK_END in hit.snippet
        await store.forget_message(Platform.slack, "w", "c", "old")
        assert await found(store, "legacy") == []
        assert await index_rows(backend, "legacy") == 0
    finally:
        await store.close()
