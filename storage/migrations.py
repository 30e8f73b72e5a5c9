"""Numbered schema migrations, applied in order; `PRAGMA user_version` records the last one applied."""

from __future__ import annotations

import aiosqlite

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
    """,
]


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema up to date; returns the version now in force."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the version bump rides in the same script so both land together.
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
