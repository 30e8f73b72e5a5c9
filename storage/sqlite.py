"""The SQLite store (aiosqlite): the embedded default, one file, no set-up.

One aiosqlite connection owns the file; aiosqlite runs every statement on its own thread in order, so
each method below is atomic with respect to the others."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiosqlite

from bot.models import AudioNote, ChannelSettings, MessageRef, Platform, Transcript, message_key
from storage.base import Store
from storage.migrations import migrate
from storage.models import Job, JobStatus, StoredTranscript, TranscriptHit, Voiceprint
from storage.search_text import MARK_END, MARK_START, indexed_text, quoted, search_terms
from storage.voiceprints import name_key, voiceprint_from_row, voiceprint_row


class SQLiteStore(Store):
    """The embedded default. Open with `await SQLiteStore.open(path)`; close with `await store.close()`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: str = "FULL") -> SQLiteStore:
        """Open (and migrate) the file. `synchronous=FULL` syncs the WAL at every commit: a note whose
        event was acked survives a power loss, not only a crash (NORMAL may lose the last commits).
        The overhead bench measures what it costs."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA synchronous={synchronous}")
        await db.execute("PRAGMA busy_timeout=5000")
        try:
            await migrate(db)
        except BaseException:
            await db.close()  # its thread would keep the process alive
            raise
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    # --- channel settings -------------------------------------------------------------------------

    async def get_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> ChannelSettings:
        async with self._db.execute(
            "SELECT data FROM channel_settings WHERE platform=? AND workspace_id=? AND channel_id=?",
            (platform.value, workspace_id, channel_id),
        ) as cur:
            row = await cur.fetchone()
        return ChannelSettings.model_validate_json(row["data"]) if row else ChannelSettings()

    async def set_settings(
        self, platform: Platform, workspace_id: str, channel_id: str, settings: ChannelSettings, by: str = ""
    ) -> None:
        await self._db.execute(
            "INSERT INTO channel_settings (platform, workspace_id, channel_id, data, updated_by, updated_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (platform, workspace_id, channel_id)"
            " DO UPDATE SET data=excluded.data, updated_by=excluded.updated_by, updated_at=excluded.updated_at",
            (platform.value, workspace_id, channel_id, settings.model_dump_json(), by, time.time()),
        )

    async def reset_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> None:
        await self._db.execute(
            "DELETE FROM channel_settings WHERE platform=? AND workspace_id=? AND channel_id=?",
            (platform.value, workspace_id, channel_id),
        )

    # --- jobs -------------------------------------------------------------------------------------

    async def add_job(self, note: AudioNote, on_demand: bool = False, hold_s: float = 0.0) -> bool:
        """Store a job for the note; False when a job with the same idempotency key already exists."""
        now = time.time()
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO jobs (key, platform, workspace_id, note, on_demand, next_attempt_at, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?)",
            (note.idempotency_key, note.platform.value, note.workspace_id, note.model_dump_json(), int(on_demand),
             now + hold_s if hold_s else 0, now, now),
        )
        return cur.rowcount == 1

    async def hold_job(self, key: str, until: float) -> None:
        await self._db.execute("UPDATE jobs SET next_attempt_at=? WHERE key=? AND status='queued'", (until, key))

    async def revive_job(self, key: str) -> bool:
        """Queue a failed job again with a fresh attempt budget (a person asked to retry it)."""
        cur = await self._db.execute(
            "UPDATE jobs SET status='queued', attempts=0, lost_leases=0, next_attempt_at=0, error=NULL, updated_at=?"
            " WHERE key=? AND status='failed'",
            (time.time(), key),
        )
        return cur.rowcount == 1

    async def redo_job(self, note: AudioNote, *, new_text: bool = True) -> bool:
        # SET expressions read the row as it was: `status='running'` is the status before this update.
        # `redo` remembers a request made during a run: 1 with a new text, 2 for the same text; a new
        # text asked for by any of the requests wins (its continuations must be posted anew).
        kind = 1 if new_text else 2
        cur = await self._db.execute(
            "UPDATE jobs SET note=?, redo=CASE WHEN status='running' THEN"
            " (CASE WHEN redo = 1 OR ? = 1 THEN 1 ELSE 2 END) ELSE 0 END,"
            " status=CASE WHEN status='running' THEN 'running' ELSE 'queued' END,"
            " attempts=CASE WHEN status='running' THEN attempts ELSE 0 END,"
            " lost_leases=CASE WHEN status='running' THEN lost_leases ELSE 0 END,"
            " next_attempt_at=CASE WHEN status='running' THEN next_attempt_at ELSE 0 END,"
            " extras_done=CASE WHEN status='running' OR ? = 2 THEN extras_done ELSE 0 END,"
            " error=NULL, updated_at=? WHERE key=?",
            (note.model_dump_json(), kind, kind, time.time(), note.idempotency_key),
        )
        return cur.rowcount == 1

    async def lease_job(
        self, lease_s: float, platforms: list[Platform], exclude_workspaces: list[str] | None = None
    ) -> Job | None:
        """Take the oldest ready job (queued and due, or running with an expired lease) for one of `platforms`."""
        if not platforms:
            return None
        now = time.time()
        plats = ",".join("?" * len(platforms))
        excl = exclude_workspaces or []
        excl_sql = f" AND workspace_id NOT IN ({','.join('?' * len(excl))})" if excl else ""
        async with self._db.execute(
            # A job taken while still 'running' lost its lease: its process died. That is counted apart
            # from `attempts` (the note's own failures, counted by `requeue_job`).
            # A queued job runs with the note stored last, so a redo asked for before this is served.
            "UPDATE jobs SET lost_leases = lost_leases + (status='running'), status='running', lease_until=?,"
            " redo=0, updated_at=?"
            " WHERE id = (SELECT id FROM jobs WHERE platform IN (" + plats + ")" + excl_sql +
            " AND ((status='queued' AND next_attempt_at<=?) OR (status='running' AND lease_until<?))"
            " ORDER BY next_attempt_at, id LIMIT 1) RETURNING *",
            (now + lease_s, now, *[p.value for p in platforms], *excl, now, now),
        ) as cur:
            row = await cur.fetchone()
        return self._job(row) if row else None

    async def renew_lease(self, key: str, lease_s: float) -> None:
        await self._db.execute(
            "UPDATE jobs SET lease_until=? WHERE key=? AND status='running'", (time.time() + lease_s, key)
        )

    async def extras_posted(self, key: str) -> int:
        async with self._db.execute("SELECT extras_done FROM jobs WHERE key=?", (key,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def mark_extras_posted(self, key: str, count: int) -> None:
        await self._db.execute("UPDATE jobs SET extras_done=? WHERE key=?", (count, key))

    async def mark_reply_pending(self, key: str) -> None:
        await self._db.execute("UPDATE jobs SET reply_pending=1 WHERE key=?", (key,))

    async def set_reply(self, key: str, ref: MessageRef) -> None:
        await self._db.execute(
            "UPDATE jobs SET reply_ref=?, updated_at=? WHERE key=?", (ref.model_dump_json(), time.time(), key)
        )

    async def finish_job(self, key: str, status: JobStatus, error: str | None = None) -> None:
        # A redo asked for during this run queues the job again, whatever this run's outcome.
        await self._db.execute(
            "UPDATE jobs SET status=CASE WHEN redo THEN 'queued' ELSE ? END, error=CASE WHEN redo THEN NULL ELSE ? END,"
            " attempts=CASE WHEN redo THEN 0 ELSE attempts END, next_attempt_at=CASE WHEN redo THEN 0"
            " ELSE next_attempt_at END, extras_done=CASE WHEN redo = 1 THEN 0 ELSE extras_done END, redo=0,"
            " lease_until=NULL, updated_at=? WHERE key=?",
            (status.value, error, time.time(), key),
        )

    async def requeue_job(self, key: str, next_attempt_at: float, error: str | None = None,
                          count_attempt: bool = True) -> None:
        """Put a job back in the queue; `count_attempt` records a failure (False: a shutdown, not a failure)."""
        await self._db.execute(
            "UPDATE jobs SET status='queued', next_attempt_at=?, error=?, lease_until=NULL, updated_at=?,"
            " attempts = attempts + ? WHERE key=?",
            (next_attempt_at, error, time.time(), 1 if count_attempt else 0, key),
        )

    async def get_job(self, key: str) -> Job | None:
        async with self._db.execute("SELECT * FROM jobs WHERE key=?", (key,)) as cur:
            row = await cur.fetchone()
        return self._job(row) if row else None

    async def job_counts(self) -> dict[str, int]:
        async with self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status") as cur:
            rows = await cur.fetchall()
        return {row["status"]: row["n"] for row in rows}

    async def pending_jobs(self, due_only: bool = True) -> int:
        """Jobs still to do: running, or queued (and due, unless `due_only` is False)."""
        sql = "SELECT COUNT(*) FROM jobs WHERE status='running' OR (status='queued'" + (
            " AND next_attempt_at<=?)" if due_only else ")"
        )
        async with self._db.execute(sql, (time.time(),) if due_only else ()) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def queued_ahead(self, key: str) -> tuple[int, int]:
        """Queued jobs ahead of this one: on its platform, and in its workspace."""
        async with self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(j.workspace_id = me.workspace_id), 0) FROM jobs j, jobs me"
            " WHERE me.key=? AND j.status='queued' AND j.platform=me.platform AND j.id != me.id"
            " AND (j.next_attempt_at, j.id) <= (me.next_attempt_at, me.id)",
            (key,),
        ) as cur:
            row = await cur.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    @staticmethod
    def _job(row: aiosqlite.Row) -> Job:
        return Job(
            id=row["id"],
            key=row["key"],
            note=AudioNote.model_validate_json(row["note"]),
            on_demand=bool(row["on_demand"]),
            status=JobStatus(row["status"]),
            attempts=row["attempts"],
            reply_ref=MessageRef.model_validate_json(row["reply_ref"]) if row["reply_ref"] else None,
            error=row["error"],
            next_attempt_at=row["next_attempt_at"],
            reply_pending=bool(row["reply_pending"]),
            lost_leases=row["lost_leases"],
        )

    # --- transcripts ------------------------------------------------------------------------------

    async def save_transcript(self, note: AudioNote, transcript: Transcript) -> None:
        await self._db.execute(
            "INSERT INTO transcripts (job_key, platform, workspace_id, channel_id, thread_id, message_id, data,"
            " created_at, author_id, body) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (job_key) DO UPDATE SET"
            " data=excluded.data, body=excluded.body,"
            # A translation belongs to the text it translates.
            " translation=CASE WHEN data=excluded.data THEN translation END,"
            " translation_posted=CASE WHEN data=excluded.data THEN translation_posted ELSE 0 END",
            (
                note.idempotency_key,
                note.platform.value,
                note.workspace_id,
                note.channel_id,
                note.thread_id or note.message_id,
                note.message_id,
                transcript.model_dump_json(),
                time.time(),
                note.author_id,
                indexed_text(transcript.text),
            ),
        )

    async def thread_transcripts(
        self, platform: Platform, workspace_id: str, channel_id: str, thread_id: str | None
    ) -> list[StoredTranscript]:
        """Transcripts of one thread (or a whole channel when `thread_id` is None), oldest first."""
        sql = "SELECT * FROM transcripts WHERE platform=? AND workspace_id=? AND channel_id=?"
        args: list[object] = [platform.value, workspace_id, channel_id]
        if thread_id is not None:
            sql += " AND thread_id=?"
            args.append(thread_id)
        async with self._db.execute(sql + " ORDER BY created_at, id", args) as cur:
            rows = await cur.fetchall()
        return [
            StoredTranscript(
                job_key=r["job_key"],
                platform=Platform(r["platform"]),
                channel_id=r["channel_id"],
                thread_id=r["thread_id"],
                message_id=r["message_id"],
                transcript=Transcript.model_validate_json(r["data"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def get_translation(self, key: str) -> tuple[str | None, bool]:
        async with self._db.execute(
            "SELECT translation, translation_posted FROM transcripts WHERE job_key=?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], bool(row[1])) if row else (None, False)

    async def save_translation(self, key: str, text: str, *, posted: bool = False) -> None:
        await self._db.execute(
            "UPDATE transcripts SET translation=?, translation_posted=? WHERE job_key=?",
            (indexed_text(text), int(posted), key),
        )

    async def get_transcript(self, key: str) -> Transcript | None:
        async with self._db.execute("SELECT data FROM transcripts WHERE job_key=?", (key,)) as cur:
            row = await cur.fetchone()
        return Transcript.model_validate_json(row["data"]) if row else None

    async def purge_transcripts(self, older_than_days: float) -> int:
        cutoff = time.time() - older_than_days * 86400
        await self._db.execute("DELETE FROM message_notes WHERE created_at < ?", (cutoff,))
        cur = await self._db.execute("DELETE FROM transcripts WHERE created_at < ?", (cutoff,))
        return cur.rowcount

    async def remember_notes(self, notes: list[AudioNote]) -> None:
        if not notes:
            return
        first = notes[0]
        data = json.dumps([n.model_dump(mode="json") for n in notes])
        await self._db.execute(
            "INSERT INTO message_notes (platform, workspace_id, channel_id, message_id, notes, created_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (platform, workspace_id, channel_id, message_id)"
            " DO UPDATE SET notes=excluded.notes",
            (first.platform.value, first.workspace_id, first.channel_id, first.message_id, data, time.time()),
        )

    async def remembered_notes(
        self, platform: Platform, workspace_id: str, channel_id: str, message_id: str
    ) -> list[AudioNote]:
        async with self._db.execute(
            "SELECT notes FROM message_notes WHERE platform=? AND workspace_id=? AND channel_id=? AND message_id=?",
            (platform.value, workspace_id, channel_id, message_id),
        ) as cur:
            row = await cur.fetchone()
        return [AudioNote.model_validate(n) for n in json.loads(row["notes"])] if row else []

    async def forget_message(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> list[Job]:
        prefix = message_key(platform, workspace_id, channel_id, message_id)
        # substr, not LIKE: ids may hold `_`, which LIKE reads as a wildcard.
        mine = "substr(key, 1, ?) = ?"
        await self._db.execute(
            f"UPDATE jobs SET status='failed', error='the note was deleted', lease_until=NULL, updated_at=?"
            f" WHERE {mine} AND status IN ('queued', 'running')",
            (time.time(), len(prefix), prefix),
        )
        await self._db.execute(
            "DELETE FROM transcripts WHERE substr(job_key, 1, ?) = ?", (len(prefix), prefix)
        )
        await self._db.execute(
            "DELETE FROM message_notes WHERE platform=? AND workspace_id=? AND channel_id=? AND message_id=?",
            (platform.value, workspace_id, channel_id, message_id),
        )
        async with self._db.execute(f"SELECT * FROM jobs WHERE {mine}", (len(prefix), prefix)) as cur:
            rows = await cur.fetchall()
        return [self._job(row) for row in rows]

    async def forget_channel(self, platform: Platform, workspace_id: str, channel_id: str) -> int:
        await self._db.execute(
            "DELETE FROM message_notes WHERE platform=? AND workspace_id=? AND channel_id=?",
            (platform.value, workspace_id, channel_id),
        )
        await self._db.execute(
            "DELETE FROM voiceprints WHERE platform=? AND workspace_id=? AND channel_id=?",
            (platform.value, workspace_id, channel_id),
        )
        cur = await self._db.execute(
            "DELETE FROM transcripts WHERE platform=? AND workspace_id=? AND channel_id=?",
            (platform.value, workspace_id, channel_id),
        )
        return cur.rowcount

    # --- enrolled voices --------------------------------------------------------------------------

    async def add_voiceprint(self, voice: Voiceprint) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO voiceprints (platform, workspace_id, name, name_key, embedding, user_id,"
            " enrolled_by, consented_by, channel_id, source_key, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            voiceprint_row(voice, time.time()),
        )

    async def list_voiceprints(self, platform: Platform, workspace_id: str) -> list[Voiceprint]:
        async with self._db.execute(
            "SELECT * FROM voiceprints WHERE platform=? AND workspace_id=? ORDER BY name_key",
            (platform.value, workspace_id),
        ) as cur:
            rows = await cur.fetchall()
        return [voiceprint_from_row(row) for row in rows]

    async def remove_voiceprint(self, platform: Platform, workspace_id: str, name: str) -> Voiceprint | None:
        async with self._db.execute(
            "DELETE FROM voiceprints WHERE platform=? AND workspace_id=? AND name_key=? RETURNING *",
            (platform.value, workspace_id, name_key(name)),
        ) as cur:
            row = await cur.fetchone()
        return voiceprint_from_row(row) if row else None

    # --- search -----------------------------------------------------------------------------------

    async def search_transcripts(
        self,
        words: str,
        *,
        platform: Platform | None = None,
        workspace_id: str | None = None,
        channel_ids: list[str] | None = None,
        limit: int = 5,
    ) -> list[TranscriptHit]:
        terms = search_terms(words)
        if not terms or channel_ids == []:
            return []
        where, args = ["transcripts_fts MATCH ?"], [quoted(terms)]
        if platform is not None:
            where.append("t.platform = ?")
            args.append(platform.value)
        if workspace_id is not None:
            where.append("t.workspace_id = ?")
            args.append(workspace_id)
        if channel_ids is not None:
            where.append(f"t.channel_id IN ({','.join('?' * len(channel_ids))})")
            args += channel_ids
        # bm25 is lower for a better match; snippet(-1) takes the best column (text or translation)
        # and at most SNIPPET_TOKENS tokens around the matches, so a long note stays one short line.
        async with self._db.execute(
            "SELECT t.job_key, t.platform, t.workspace_id, t.channel_id, t.thread_id, t.message_id, t.author_id,"
            f" t.created_at, snippet(transcripts_fts, -1, ?, ?, '…', {SNIPPET_TOKENS}) AS snippet"
            " FROM transcripts_fts JOIN transcripts t ON t.id = transcripts_fts.rowid"
            f" WHERE {' AND '.join(where)} ORDER BY bm25(transcripts_fts), t.created_at DESC LIMIT ?",
            (MARK_START, MARK_END, *args, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [TranscriptHit.model_validate(dict(r)) for r in rows]  # columns named as its fields


#: Tokens in a hit's snippet (FTS5 allows up to 64).
SNIPPET_TOKENS = 24
