"""Numbered schema migrations, applied in order, one list per backend.

The two lists are kept in lock-step: migration N means the same change on SQLite and on PostgreSQL
(only the SQL dialect differs), so a schema version names one schema whatever the backend, and a new
migration is added to both lists at once (tests/test_storage.py checks they are as long).
SQLite records the last one applied in `PRAGMA user_version`; PostgreSQL in the `schema_version` table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, LiteralString

import aiosqlite

from storage.base import SchemaTooNew

if TYPE_CHECKING:  # psycopg loads only when a PostgreSQL store is opened
    from psycopg import AsyncConnection

MIGRATIONS: list[str] = [
    # 1: settings, the durable job queue, transcripts
    """
    CREATE TABLE channel_settings (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        data         TEXT NOT NULL,
        updated_by   TEXT,
        updated_at   REAL NOT NULL,
        PRIMARY KEY (platform, workspace_id, channel_id)
    );
    CREATE TABLE jobs (
        id              INTEGER PRIMARY KEY,
        key             TEXT NOT NULL UNIQUE,
        platform        TEXT NOT NULL,
        workspace_id    TEXT NOT NULL,
        note            TEXT NOT NULL,
        on_demand       INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'queued',
        attempts        INTEGER NOT NULL DEFAULT 0,
        lease_until     REAL,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        reply_ref       TEXT,
        error           TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX jobs_ready ON jobs (status, next_attempt_at);
    CREATE TABLE transcripts (
        id           INTEGER PRIMARY KEY,
        job_key      TEXT NOT NULL UNIQUE,
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        thread_id    TEXT,
        message_id   TEXT NOT NULL,
        data         TEXT NOT NULL,
        created_at   REAL NOT NULL
    );
    CREATE INDEX transcripts_thread ON transcripts (platform, workspace_id, channel_id, thread_id);
    CREATE INDEX transcripts_created ON transcripts (created_at);
    """,
    # 2: a reply is marked pending before it is posted, so a crash between posting and storing its id
    # is detectable: the next run looks the reply up instead of posting a second one.
    """
    ALTER TABLE jobs ADD COLUMN reply_pending INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: continuations, files and the summary are posted once, even when a crash makes the job run again.
    """
    ALTER TABLE jobs ADD COLUMN extras_posted INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: `attempts` counts the note's failures only; a lease lost to a crash is counted here instead.
    """
    ALTER TABLE jobs ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: extras are recorded one by one as they are posted (a crash part-way reposts none of them);
    # `extras_posted` (all or nothing) is kept only to carry over what it recorded.
    """
    ALTER TABLE jobs ADD COLUMN extras_done INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET extras_done = 1000000 WHERE extras_posted = 1;
    """,
    # 6: the notes each message with media held, kept when its event arrives, so a later reaction or
    # shortcut needs no history call (a rate-limited one, before the ack) to know what to transcribe.
    """
    CREATE TABLE message_notes (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        notes        TEXT NOT NULL,
        created_at   REAL NOT NULL,
        PRIMARY KEY (platform, workspace_id, channel_id, message_id)
    );
    CREATE INDEX message_notes_created ON message_notes (created_at);
    """,
    # 7: a person asked for a note again (another language) while its job was running: it runs once
    # more when this run ends, with the note stored by the request.
    """
    ALTER TABLE jobs ADD COLUMN redo INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: the English translation of a transcript (kept with it, gone with it), and whether the file
    # that holds a long one was posted.
    """
    ALTER TABLE transcripts ADD COLUMN translation TEXT;
    ALTER TABLE transcripts ADD COLUMN translation_posted INTEGER NOT NULL DEFAULT 0;
    """,    # 9: transcript search. `body` is the transcript's text as a column (FTS5 indexes columns, not JSON),
    # `author_id` who posted the note (a hit says who); both back-filled from what is stored. The FTS5
    # table reads its text from `transcripts` (external content, so nothing is stored twice) and
    # triggers keep it in step with every insert, update and delete: retention, `/voxnote forget` and
    # deleted messages drop rows from the index with the rows themselves. `remove_diacritics 2`: "cafe"
    # finds "café". No stemming: notes come in many languages and FTS5's only stemmer is English.
    """
    ALTER TABLE transcripts ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE transcripts ADD COLUMN body TEXT NOT NULL DEFAULT '';
    UPDATE transcripts SET
        body = replace(replace(COALESCE(json_extract(data, '$.text'), ''), char(2), ' '), char(3), ' '),
        author_id = COALESCE((SELECT json_extract(j.note, '$.author_id') FROM jobs j WHERE j.key = transcripts.job_key), '');
    CREATE VIRTUAL TABLE transcripts_fts USING fts5(
        body, translation, content='transcripts', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO transcripts_fts(transcripts_fts) VALUES ('rebuild');
    CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
        INSERT INTO transcripts_fts(rowid, body, translation) VALUES (new.id, new.body, new.translation);
    END;
    CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
        INSERT INTO transcripts_fts(transcripts_fts, rowid, body, translation)
            VALUES ('delete', old.id, old.body, old.translation);
    END;
    CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF body, translation ON transcripts BEGIN
        INSERT INTO transcripts_fts(transcripts_fts, rowid, body, translation)
            VALUES ('delete', old.id, old.body, old.translation);
        INSERT INTO transcripts_fts(rowid, body, translation) VALUES (new.id, new.body, new.translation);
    END;
    """,    # 10: enrolled voices (named speakers), per workspace: the embedding only (float32 bytes), never
    # audio; who the voice is, who enrolled it and who consented; the channel and note it came from,
    # so the `/voxnote forget` of that channel deletes it.
    """
    CREATE TABLE voiceprints (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        name         TEXT NOT NULL,
        name_key     TEXT NOT NULL,
        embedding    BLOB NOT NULL,
        user_id      TEXT NOT NULL,
        enrolled_by  TEXT NOT NULL,
        consented_by TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        source_key   TEXT NOT NULL,
        created_at   REAL NOT NULL,
        PRIMARY KEY (platform, workspace_id, name_key)
    );
    """,
    # 11: platform rate budgets shared by replicas (the send times in each key's moving window). Unused
    # on SQLite, whose one process paces itself in memory; made here too so both schemas stay one.
    """
    CREATE TABLE rate_windows (
        key  TEXT PRIMARY KEY,
        sent TEXT NOT NULL
    );
    """,
]


# PostgreSQL: times stay epoch seconds (DOUBLE PRECISION, as SQLite's REAL) and JSON stays text, so both
# stores share their Python code paths and values; flags that SQLite keeps as 0/1 are BOOLEAN here.
POSTGRES_MIGRATIONS: list[LiteralString] = [
    # 1: settings, the durable job queue, transcripts
    """
    CREATE TABLE channel_settings (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        data         TEXT NOT NULL,
        updated_by   TEXT,
        updated_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, workspace_id, channel_id)
    );
    CREATE TABLE jobs (
        id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        key             TEXT NOT NULL UNIQUE,
        platform        TEXT NOT NULL,
        workspace_id    TEXT NOT NULL,
        note            TEXT NOT NULL,
        on_demand       BOOLEAN NOT NULL DEFAULT false,
        status          TEXT NOT NULL DEFAULT 'queued',
        attempts        INTEGER NOT NULL DEFAULT 0,
        lease_until     DOUBLE PRECISION,
        next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        reply_ref       TEXT,
        error           TEXT,
        created_at      DOUBLE PRECISION NOT NULL,
        updated_at      DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX jobs_ready ON jobs (status, next_attempt_at);
    CREATE TABLE transcripts (
        id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        job_key      TEXT NOT NULL UNIQUE,
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        thread_id    TEXT,
        message_id   TEXT NOT NULL,
        data         TEXT NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX transcripts_thread ON transcripts (platform, workspace_id, channel_id, thread_id);
    CREATE INDEX transcripts_created ON transcripts (created_at);
    """,
    # 2: reply_pending (see the SQLite list for the why of each migration)
    """
    ALTER TABLE jobs ADD COLUMN reply_pending BOOLEAN NOT NULL DEFAULT false;
    """,
    # 3: extras posted, all or nothing
    """
    ALTER TABLE jobs ADD COLUMN extras_posted BOOLEAN NOT NULL DEFAULT false;
    """,
    # 4: lost leases counted apart from attempts
    """
    ALTER TABLE jobs ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: extras recorded one by one
    """
    ALTER TABLE jobs ADD COLUMN extras_done INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET extras_done = 1000000 WHERE extras_posted;
    """,
    # 6: the notes each message with media held
    """
    CREATE TABLE message_notes (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        notes        TEXT NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, workspace_id, channel_id, message_id)
    );
    CREATE INDEX message_notes_created ON message_notes (created_at);
    """,
    # 7: a redo asked for while the job runs (1: with a new text, 2: the same text)
    """
    ALTER TABLE jobs ADD COLUMN redo INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: the English translation of a transcript, and whether its file was posted
    """
    ALTER TABLE transcripts ADD COLUMN translation TEXT;
    ALTER TABLE transcripts ADD COLUMN translation_posted BOOLEAN NOT NULL DEFAULT false;
    """,    # 9: transcript search: `body`, `author_id` (as in SQLite) and `search_doc`, a tsvector the store
    # writes with each transcript and translation (in the same statement, so it is never out of step;
    # deleting the row deletes it). The `simple` configuration, no stemming, like SQLite's index: one
    # query finds notes of every language alike. Its text is folded (no diacritics) by the store in
    # Python (`storage.search_text.fold`); this back-fill folds the Latin letters with `translate`.
    """
    ALTER TABLE transcripts ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE transcripts ADD COLUMN body TEXT NOT NULL DEFAULT '';
    ALTER TABLE transcripts ADD COLUMN search_doc tsvector NOT NULL DEFAULT ''::tsvector;
    UPDATE transcripts t SET
        body = translate(COALESCE((t.data::json)->>'text', ''), E'\\x02\\x03', '  '),
        author_id = COALESCE((SELECT (j.note::json)->>'author_id' FROM jobs j WHERE j.key = t.job_key), '');
    UPDATE transcripts SET search_doc = to_tsvector('simple', translate(
        body || ' ' || COALESCE(translation, ''),
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſ',
        'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzs'));
    CREATE INDEX transcripts_search ON transcripts USING GIN (search_doc);
    """,    # 10: enrolled voices (named speakers), per workspace
    """
    CREATE TABLE voiceprints (
        platform     TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        name         TEXT NOT NULL,
        name_key     TEXT NOT NULL,
        embedding    BYTEA NOT NULL,
        user_id      TEXT NOT NULL,
        enrolled_by  TEXT NOT NULL,
        consented_by TEXT NOT NULL,
        channel_id   TEXT NOT NULL,
        source_key   TEXT NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, workspace_id, name_key)
    );
    """,
    # 11: platform rate budgets shared by replicas: each key's send times (server clock, epoch seconds)
    # within its moving window
    """
    CREATE TABLE rate_windows (
        key  TEXT PRIMARY KEY,
        sent DOUBLE PRECISION[] NOT NULL
    );
    """,
]


def check_not_newer(version: int, known: int) -> None:
    """A database a newer voxnote migrated past what this one knows: running on it would write rows that
    version does not expect (and read columns wrongly), so this one refuses to start."""
    if version > known:
        raise SchemaTooNew(
            f"the database is at schema version {version}, newer than this voxnote knows ({known}): it was "
            "upgraded by a newer voxnote; run that version, or restore the backup taken before upgrading"
        )


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema up to date; returns the version now in force."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    check_not_newer(version, len(MIGRATIONS))
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the version bump rides in the same script so both land together.
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)



async def migrate_postgres(conn: AsyncConnection[Any]) -> int:
    """Bring a PostgreSQL schema up to date; returns the version now in force.

    Replicas may start together: an advisory lock (per schema, so two deployments in one database do not
    wait on each other) lets one of them migrate while the others wait, then find nothing left to do.
    DDL is transactional in PostgreSQL, so the migrations and the version they reach commit together."""
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('voxnote.migrate:' || coalesce(current_schema(), '')))"
        )
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        cur = await conn.execute("SELECT version FROM schema_version")
        row = await cur.fetchone()
        if row is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = int(row[0] if isinstance(row, tuple) else row["version"]) if row is not None else 0
        check_not_newer(version, len(POSTGRES_MIGRATIONS))
        for script in POSTGRES_MIGRATIONS[version:]:
            await conn.execute(script)  # several statements: psycopg sends a query without parameters as is
        if version < len(POSTGRES_MIGRATIONS):
            await conn.execute("UPDATE schema_version SET version = %s", (len(POSTGRES_MIGRATIONS),))
    return max(version, len(POSTGRES_MIGRATIONS))
