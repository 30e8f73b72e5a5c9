"""The PostgreSQL store (psycopg 3 and its async pool): the backend for several processes on one database.

Same semantics as storage/sqlite.py, statement for statement. Where SQLite is atomic because one
connection runs everything in order, here each method is one statement in autocommit mode (atomic on
its own), or one transaction when it needs several. The queue's "take the oldest ready job" locks the
row it picks with `FOR UPDATE SKIP LOCKED`: two workers, in one process or in several, never take the
same job, and neither waits for the other's row.

The URL holds a password: it never appears in a message or a log line (`safe_url`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, LiteralString
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.models import AudioNote, ChannelSettings, MessageRef, Platform, Transcript, message_key
from storage.base import Store, StoreUnavailable
from storage.migrations import migrate_postgres
from storage.models import Job, JobStatus, StoredTranscript, TranscriptHit, Voiceprint
from storage.search_text import MARK_END, MARK_START, fold, indexed_text, quoted, search_terms
from storage.voiceprints import name_key, voiceprint_from_row, voiceprint_row

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10
#: Where a replica announces work it queued. Channels are per database, not per schema: the payload names
#: the schema, and a listener heeds its own only.
JOBS_CHANNEL = "voxnote_jobs"
#: Without a notice, idle workers look at the queue this often: for retries and expired leases (announced by
#: nobody), and as the safety net should a notice be lost. New work is announced, so this can be longer than
#: SQLite's 1 s; not much longer, because a replica that died is only noticed by the poll (its leases expire).
WORK_POLL_SECONDS = 2.0
#: Between attempts to listen again after the listening connection broke (a server restart, a failover).
LISTEN_RETRY_SECONDS = (0.2, 1.0, 5.0)
LISTENER_NAME = "voxnote-listener"

log = logging.getLogger(__name__)


def is_postgres_url(url: str) -> bool:
    return url.startswith(SCHEMES)


def _secrets(url: str) -> list[str]:
    """The password(s) a URL or conninfo string carries, as written and decoded (to scrub messages)."""
    found: list[str] = []
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found += [password, unquote(password)]
    try:
        given = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        given = None
    if given:
        found += [str(given), quote(str(given), safe="")]
    return sorted({s for s in found if s}, key=len, reverse=True)


def safe_url(url: str) -> str:
    """The URL without its password, for messages: `postgresql://voxnote:***@db:5432/voxnote`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:***@{host}"
        text = urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        text = "the database URL"
    return scrub(text, url)


def scrub(message: str, url: str) -> str:
    """`message` with every password of `url` masked (a driver's error may quote the connection string)."""
    for secret in _secrets(url):
        message = message.replace(secret, "***")
    return message


class PostgresStore(Store):
    """Open with `await PostgresStore.open(url)`; close with `await store.close()`."""

    work_poll_seconds = WORK_POLL_SECONDS

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]], conninfo: str = "") -> None:
        self._pool = pool
        self._conninfo = conninfo
        # Set by a notice (or a reconnect, which may have missed some); cleared by the waiter it wakes.
        self._work = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._listener_pid: int | None = None

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        """Connect, migrate, and keep a pool of `min_size`..`max_size` connections.

        A first plain connection runs the migrations, so a wrong host or password fails here with the
        server's reason (a pool would only time out). `max_size` bounds what one replica may hold: each
        worker, lease renewal and adapter call holds a connection for one statement only."""
        if not is_postgres_url(url):
            raise StoreUnavailable("the URL must start with postgresql:// (leave it unset for the SQLite file)")
        given = _conninfo_keys(url)
        extra: dict[str, Any] = {} if "connect_timeout" in given else {"connect_timeout": CONNECT_TIMEOUT_S}
        conninfo = make_conninfo(url, **extra)
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
            async with conn:
                await migrate_postgres(conn)
        except psycopg.Error as exc:
            raise StoreUnavailable(scrub(f"cannot use {safe_url(url)}: {exc}", url)) from None
        pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            # A connection the server dropped (a restart, a failover) is replaced before use, not handed
            # to a worker to fail its job. It costs one round trip per call (0.25 ms on a local server),
            # nothing beside a transcription's seconds.
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="voxnote",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout:
            await pool.close()
            raise StoreUnavailable(f"cannot open connections to {safe_url(url)}") from None
        store = cls(pool, conninfo)
        store._listener = asyncio.create_task(store._listen(), name="voxnote-postgres-listener")
        return store

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pool.close()

    # --- waking idle workers ----------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._work.wait(), timeout)
        except asyncio.TimeoutError:
            return
        # Cleared only by a waiter that saw it: a cancelled wait leaves the notice for the next one.
        self._work.clear()

    async def listening(self, timeout: float = CONNECT_TIMEOUT_S) -> int:
        """Wait until the store listens for announced work; returns the server process id of the listening
        connection (what an operator sees in pg_stat_activity, as application_name voxnote-listener)."""
        await asyncio.wait_for(self._listening.wait(), timeout)
        assert self._listener_pid is not None
        return self._listener_pid

    async def _listen(self) -> None:
        """One connection per store LISTENs for announced work, for as long as the store is open. When it
        breaks, it listens again, and wakes the workers then: a job queued while it was deaf is not
        announced again, and must not wait for the poll."""
        failures = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=LISTENER_NAME
                )
                async with conn:
                    schema = (await (await conn.execute("SELECT current_schema()")).fetchone() or [""])[0]
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    failures = 0
                    self._listener_pid = conn.info.backend_pid
                    self._listening.set()
                    self._work.set()
                    async for notice in conn.notifies():
                        if notice.payload == schema:
                            self._work.set()
            except psycopg.Error as exc:
                self._listening.clear()
                delay = LISTEN_RETRY_SECONDS[min(failures, len(LISTEN_RETRY_SECONDS) - 1)]
                failures += 1
                # The driver's message may quote the connection string: scrubbed of its password.
                log.warning("listening for new jobs failed (%s); again in %.1f s, polling meanwhile",
                            scrub(str(exc), self._conninfo), delay)
                await asyncio.sleep(delay)

    # --- helpers ----------------------------------------------------------------------------------

    async def _execute(self, sql: LiteralString, params: tuple[Any, ...] | dict[str, Any] = ()) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def _queue(self, sql: LiteralString, params: tuple[Any, ...] | dict[str, Any] = (),
                     announce: bool = True) -> int:
        """Run a statement that may queue jobs (it ends `RETURNING status`) and, in its transaction, announce
        them to the idle workers of every replica; the notice is delivered at commit, with the rows. Returns
        how many rows the statement touched."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
            if announce and any(row["status"] == "queued" for row in rows):
                await conn.execute("SELECT pg_notify(%s, current_schema())", (JOBS_CHANNEL,))
            return len(rows)

    async def _one(self, sql: LiteralString, params: tuple[Any, ...] | dict[str, Any] = ()) -> DictRow | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def _all(self, sql: LiteralString, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[DictRow]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    # --- shared rate budgets ---------------------------------------------------------------------

    several_processes = True

    async def take_rate_slot(self, key: str, limit: int, period: float) -> float:
        # One statement: the row lock ON CONFLICT takes serialises every replica's takers of a key. Times
        # are the server's clock, so replicas whose clocks differ still count one window.
        row = await self._one(
            "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)"
            " INSERT INTO rate_windows AS w (key, sent) SELECT %(key)s, ARRAY[now] FROM clock"
            " ON CONFLICT (key) DO UPDATE SET sent ="
            " ARRAY(SELECT t FROM unnest(w.sent) t WHERE t > excluded.sent[1] - %(period)s ORDER BY t)"
            " || excluded.sent[1]"
            " WHERE (SELECT count(*) FROM unnest(w.sent) t WHERE t > excluded.sent[1] - %(period)s) < %(limit)s"
            " RETURNING 0.0::float8 AS wait",
            {"key": key, "limit": limit, "period": period},
        )
        if row is not None:
            return 0.0
        # Refused: the oldest send still in the window frees the next slot.
        row = await self._one(
            "SELECT (SELECT min(t) FROM unnest(sent) t WHERE t > now - %(period)s) + %(period)s - now AS wait"
            " FROM rate_windows, (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) clock"
            " WHERE key = %(key)s",
            {"key": key, "period": period},
        )
        wait = row["wait"] if row is not None else None
        # A slot freed in between (or the window just emptied): ask again soon rather than never.
        return max(float(wait), 0.01) if wait is not None else 0.01

    # --- channel settings -------------------------------------------------------------------------

    async def get_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> ChannelSettings:
        row = await self._one(
            "SELECT data FROM channel_settings WHERE platform=%s AND workspace_id=%s AND channel_id=%s",
            (platform.value, workspace_id, channel_id),
        )
        return ChannelSettings.model_validate_json(row["data"]) if row else ChannelSettings()

    async def set_settings(
        self, platform: Platform, workspace_id: str, channel_id: str, settings: ChannelSettings, by: str = ""
    ) -> None:
        await self._execute(
            "INSERT INTO channel_settings (platform, workspace_id, channel_id, data, updated_by, updated_at)"
            " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (platform, workspace_id, channel_id)"
            " DO UPDATE SET data=excluded.data, updated_by=excluded.updated_by, updated_at=excluded.updated_at",
            (platform.value, workspace_id, channel_id, settings.model_dump_json(), by, time.time()),
        )

    async def reset_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> None:
        await self._execute(
            "DELETE FROM channel_settings WHERE platform=%s AND workspace_id=%s AND channel_id=%s",
            (platform.value, workspace_id, channel_id),
        )

    # --- jobs -------------------------------------------------------------------------------------

    async def add_job(self, note: AudioNote, on_demand: bool = False, hold_s: float = 0.0) -> bool:
        now = time.time()
        # A held job is announced when its hold is released (`hold_job(key, 0)`), once its reply exists: a
        # replica woken before would take it and post a second reply.
        return await self._queue(
            "INSERT INTO jobs (key, platform, workspace_id, note, on_demand, next_attempt_at, created_at, updated_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (key) DO NOTHING RETURNING status",
            (note.idempotency_key, note.platform.value, note.workspace_id, note.model_dump_json(), on_demand,
             now + hold_s if hold_s else 0, now, now),
            announce=not hold_s,
        ) == 1

    async def hold_job(self, key: str, until: float) -> None:
        # Released (due now): announced, so an idle worker of any replica takes it at once.
        await self._queue(
            "UPDATE jobs SET next_attempt_at=%s WHERE key=%s AND status='queued' RETURNING status", (until, key),
            announce=until <= time.time(),
        )

    async def revive_job(self, key: str) -> bool:
        return await self._queue(
            "UPDATE jobs SET status='queued', attempts=0, lost_leases=0, next_attempt_at=0, error=NULL, updated_at=%s"
            " WHERE key=%s AND status='failed' RETURNING status",
            (time.time(), key),
        ) == 1

    async def redo_job(self, note: AudioNote, *, new_text: bool = True) -> bool:
        # As in SQLite, SET expressions read the row as it was: `status='running'` is the status before
        # this update. `redo` remembers a request made during a run: 1 with a new text, 2 for the same text;
        # a new text asked for by any of the requests wins (its continuations must be posted anew).
        return await self._queue(
            "UPDATE jobs SET note=%(note)s, redo=CASE WHEN status='running' THEN"
            " (CASE WHEN redo = 1 OR %(kind)s = 1 THEN 1 ELSE 2 END) ELSE 0 END,"
            " status=CASE WHEN status='running' THEN 'running' ELSE 'queued' END,"
            " attempts=CASE WHEN status='running' THEN attempts ELSE 0 END,"
            " lost_leases=CASE WHEN status='running' THEN lost_leases ELSE 0 END,"
            " next_attempt_at=CASE WHEN status='running' THEN next_attempt_at ELSE 0 END,"
            " extras_done=CASE WHEN status='running' OR %(kind)s = 2 THEN extras_done ELSE 0 END,"
            " error=NULL, updated_at=%(now)s WHERE key=%(key)s RETURNING status",
            {"note": note.model_dump_json(), "kind": 1 if new_text else 2, "now": time.time(),
             "key": note.idempotency_key},
        ) == 1

    async def lease_job(
        self, lease_s: float, platforms: list[Platform], exclude_workspaces: list[str] | None = None
    ) -> Job | None:
        if not platforms:
            return None
        now = time.time()
        row = await self._one(
            # The sub-select picks and locks one ready row; rows another worker is taking right now are
            # skipped rather than waited for (SKIP LOCKED), and a row that changed since this statement
            # began is re-checked against the WHERE before it is locked, so a job just taken is passed over.
            # A job taken while still 'running' lost its lease (its process died): counted apart from
            # `attempts`. A queued job runs with the note stored last, so a redo asked for before is served.
            "UPDATE jobs SET lost_leases = lost_leases + CASE WHEN status='running' THEN 1 ELSE 0 END,"
            " status='running', lease_until=%(until)s, redo=0, updated_at=%(now)s"
            " WHERE id = (SELECT id FROM jobs WHERE platform = ANY(%(platforms)s)"
            " AND NOT (workspace_id = ANY(%(excluded)s))"
            " AND ((status='queued' AND next_attempt_at<=%(now)s) OR (status='running' AND lease_until<%(now)s))"
            " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *",
            {"until": now + lease_s, "now": now, "platforms": [p.value for p in platforms],
             "excluded": list(exclude_workspaces or [])},
        )
        return self._job(row) if row else None

    async def renew_lease(self, key: str, lease_s: float) -> None:
        await self._execute(
            "UPDATE jobs SET lease_until=%s WHERE key=%s AND status='running'", (time.time() + lease_s, key)
        )

    async def extras_posted(self, key: str) -> int:
        row = await self._one("SELECT extras_done FROM jobs WHERE key=%s", (key,))
        return int(row["extras_done"]) if row else 0

    async def mark_extras_posted(self, key: str, count: int) -> None:
        await self._execute("UPDATE jobs SET extras_done=%s WHERE key=%s", (count, key))

    async def mark_reply_pending(self, key: str) -> None:
        await self._execute("UPDATE jobs SET reply_pending=true WHERE key=%s", (key,))

    async def set_reply(self, key: str, ref: MessageRef) -> None:
        await self._execute(
            "UPDATE jobs SET reply_ref=%s, updated_at=%s WHERE key=%s", (ref.model_dump_json(), time.time(), key)
        )

    async def finish_job(self, key: str, status: JobStatus, error: str | None = None) -> None:
        # A redo asked for during this run queues the job again, whatever this run's outcome.
        await self._queue(
            "UPDATE jobs SET status=CASE WHEN redo<>0 THEN 'queued' ELSE %(status)s END,"
            " error=CASE WHEN redo<>0 THEN NULL ELSE %(error)s END,"
            " attempts=CASE WHEN redo<>0 THEN 0 ELSE attempts END,"
            " next_attempt_at=CASE WHEN redo<>0 THEN 0 ELSE next_attempt_at END,"
            " extras_done=CASE WHEN redo = 1 THEN 0 ELSE extras_done END, redo=0,"
            " lease_until=NULL, updated_at=%(now)s WHERE key=%(key)s RETURNING status",
            {"status": status.value, "error": error, "now": time.time(), "key": key},
        )

    async def requeue_job(self, key: str, next_attempt_at: float, error: str | None = None,
                          count_attempt: bool = True) -> None:
        now = time.time()
        await self._queue(
            "UPDATE jobs SET status='queued', next_attempt_at=%s, error=%s, lease_until=NULL, updated_at=%s,"
            " attempts = attempts + %s WHERE key=%s RETURNING status",
            (next_attempt_at, error, now, 1 if count_attempt else 0, key),
            # A retry due later is found by the poll then: announcing it now would wake workers for nothing.
            announce=next_attempt_at <= now,
        )

    async def get_job(self, key: str) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE key=%s", (key,))
        return self._job(row) if row else None

    async def job_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}

    async def pending_jobs(self, due_only: bool = True) -> int:
        if due_only:
            row = await self._one(
                "SELECT COUNT(*) AS n FROM jobs WHERE status='running' OR (status='queued' AND next_attempt_at<=%s)",
                (time.time(),),
            )
        else:
            row = await self._one("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('running', 'queued')")
        return int(row["n"]) if row else 0

    async def queued_ahead(self, key: str) -> tuple[int, int]:
        row = await self._one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN j.workspace_id = me.workspace_id THEN 1 ELSE 0 END), 0)"
            " AS here FROM jobs j, jobs me"
            " WHERE me.key=%s AND j.status='queued' AND j.platform=me.platform AND j.id <> me.id"
            " AND (j.next_attempt_at, j.id) <= (me.next_attempt_at, me.id)",
            (key,),
        )
        return (int(row["n"]), int(row["here"])) if row else (0, 0)

    @staticmethod
    def _job(row: DictRow) -> Job:
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
        await self._execute(
            "INSERT INTO transcripts (job_key, platform, workspace_id, channel_id, thread_id, message_id, data,"
            " created_at, author_id, body, search_doc) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            " to_tsvector('simple', %s)) ON CONFLICT (job_key) DO UPDATE SET data=excluded.data, body=excluded.body,"
            # A translation belongs to the text it translates; the same text keeps its index (translation
            # included), a new one is indexed without the old translation.
            " translation=CASE WHEN transcripts.data=excluded.data THEN transcripts.translation END,"
            " translation_posted=(transcripts.data=excluded.data AND transcripts.translation_posted),"
            " search_doc=CASE WHEN transcripts.data=excluded.data THEN transcripts.search_doc"
            " ELSE excluded.search_doc END",
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
                fold(indexed_text(transcript.text)),
            ),
        )

    async def thread_transcripts(
        self, platform: Platform, workspace_id: str, channel_id: str, thread_id: str | None
    ) -> list[StoredTranscript]:
        sql: LiteralString = "SELECT * FROM transcripts WHERE platform=%s AND workspace_id=%s AND channel_id=%s"
        args: list[object] = [platform.value, workspace_id, channel_id]
        if thread_id is not None:
            sql += " AND thread_id=%s"
            args.append(thread_id)
        rows = await self._all(sql + " ORDER BY created_at, id", tuple(args))
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
        row = await self._one("SELECT translation, translation_posted FROM transcripts WHERE job_key=%s", (key,))
        return (row["translation"], bool(row["translation_posted"])) if row else (None, False)

    async def save_translation(self, key: str, text: str, *, posted: bool = False) -> None:
        text = indexed_text(text)
        # The index holds the text and its translation, folded here (see migration 9): read the text
        # and write both in one transaction, the row locked, so a new text cannot slip in between.
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT body FROM transcripts WHERE job_key=%s FOR UPDATE", (key,))
            row = await cur.fetchone()
            if row is None:
                return
            await conn.execute(
                "UPDATE transcripts SET translation=%s, translation_posted=%s, search_doc=to_tsvector('simple', %s)"
                " WHERE job_key=%s",
                (text, posted, fold(f"{row['body']} {text}"), key),
            )

    async def get_transcript(self, key: str) -> Transcript | None:
        row = await self._one("SELECT data FROM transcripts WHERE job_key=%s", (key,))
        return Transcript.model_validate_json(row["data"]) if row else None

    async def purge_transcripts(self, older_than_days: float) -> int:
        cutoff = time.time() - older_than_days * 86400
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM message_notes WHERE created_at < %s", (cutoff,))
            cur = await conn.execute("DELETE FROM transcripts WHERE created_at < %s", (cutoff,))
            return cur.rowcount

    async def remember_notes(self, notes: list[AudioNote]) -> None:
        if not notes:
            return
        first = notes[0]
        data = json.dumps([n.model_dump(mode="json") for n in notes])
        await self._execute(
            "INSERT INTO message_notes (platform, workspace_id, channel_id, message_id, notes, created_at)"
            " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (platform, workspace_id, channel_id, message_id)"
            " DO UPDATE SET notes=excluded.notes",
            (first.platform.value, first.workspace_id, first.channel_id, first.message_id, data, time.time()),
        )

    async def remembered_notes(
        self, platform: Platform, workspace_id: str, channel_id: str, message_id: str
    ) -> list[AudioNote]:
        row = await self._one(
            "SELECT notes FROM message_notes WHERE platform=%s AND workspace_id=%s AND channel_id=%s"
            " AND message_id=%s",
            (platform.value, workspace_id, channel_id, message_id),
        )
        return [AudioNote.model_validate(n) for n in json.loads(row["notes"])] if row else []

    async def forget_message(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> list[Job]:
        prefix = message_key(platform, workspace_id, channel_id, message_id)
        # starts_with, not LIKE: ids may hold `_`, which LIKE reads as a wildcard. One transaction: a
        # worker never sees the job failed while its transcript is still there, or the other way round.
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE jobs SET status='failed', error='the note was deleted', lease_until=NULL, updated_at=%s"
                " WHERE starts_with(key, %s) AND status IN ('queued', 'running')",
                (time.time(), prefix),
            )
            await conn.execute("DELETE FROM transcripts WHERE starts_with(job_key, %s)", (prefix,))
            await conn.execute(
                "DELETE FROM message_notes WHERE platform=%s AND workspace_id=%s AND channel_id=%s AND message_id=%s",
                (platform.value, workspace_id, channel_id, message_id),
            )
            cur = await conn.execute("SELECT * FROM jobs WHERE starts_with(key, %s) ORDER BY id", (prefix,))
            rows = await cur.fetchall()
        return [self._job(row) for row in rows]

    async def forget_channel(self, platform: Platform, workspace_id: str, channel_id: str) -> int:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM message_notes WHERE platform=%s AND workspace_id=%s AND channel_id=%s",
                (platform.value, workspace_id, channel_id),
            )
            await conn.execute(
                "DELETE FROM voiceprints WHERE platform=%s AND workspace_id=%s AND channel_id=%s",
                (platform.value, workspace_id, channel_id),
            )
            cur = await conn.execute(
                "DELETE FROM transcripts WHERE platform=%s AND workspace_id=%s AND channel_id=%s",
                (platform.value, workspace_id, channel_id),
            )
            return cur.rowcount

    # --- enrolled voices --------------------------------------------------------------------------

    async def add_voiceprint(self, voice: Voiceprint) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO voiceprints (platform, workspace_id, name, name_key, embedding, user_id, enrolled_by,"
                " consented_by, channel_id, source_key, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (platform, workspace_id, name_key) DO UPDATE SET name=excluded.name,"
                " embedding=excluded.embedding, user_id=excluded.user_id, enrolled_by=excluded.enrolled_by,"
                " consented_by=excluded.consented_by, channel_id=excluded.channel_id,"
                " source_key=excluded.source_key, created_at=excluded.created_at",
                voiceprint_row(voice, time.time()),
            )

    async def list_voiceprints(self, platform: Platform, workspace_id: str) -> list[Voiceprint]:
        rows = await self._all(
            "SELECT * FROM voiceprints WHERE platform=%s AND workspace_id=%s ORDER BY name_key",
            (platform.value, workspace_id),
        )
        return [voiceprint_from_row(row) for row in rows]

    async def remove_voiceprint(self, platform: Platform, workspace_id: str, name: str) -> Voiceprint | None:
        row = await self._one(
            "DELETE FROM voiceprints WHERE platform=%s AND workspace_id=%s AND name_key=%s RETURNING *",
            (platform.value, workspace_id, name_key(name)),
        )
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
        # The inner query ranks on the GIN index; only the few rows it keeps get a headline (the costly
        # part). Highlighting reads the text as written (accents and all), so it looks for the words as
        # typed and folded alike.
        rows = await self._all(
            "SELECT t.job_key, t.platform, t.workspace_id, t.channel_id, t.thread_id, t.message_id, t.author_id,"
            " t.created_at, ts_headline('simple', concat_ws(' / ', t.body, t.translation),"
            " websearch_to_tsquery('simple', %(typed)s) || websearch_to_tsquery('simple', %(folded)s),"
            " %(options)s) AS snippet"
            " FROM (SELECT id, ts_rank(search_doc, q) AS rank FROM transcripts,"
            " websearch_to_tsquery('simple', %(folded)s) AS q"
            " WHERE search_doc @@ q AND (%(platform)s::text IS NULL OR platform = %(platform)s)"
            " AND (%(workspace)s::text IS NULL OR workspace_id = %(workspace)s)"
            " AND (%(all_channels)s OR channel_id = ANY(%(channels)s))"
            " ORDER BY rank DESC, created_at DESC LIMIT %(limit)s) best"
            " JOIN transcripts t ON t.id = best.id ORDER BY best.rank DESC, t.created_at DESC",
            {
                "typed": quoted(terms),
                "folded": fold(quoted(terms)),
                "options": f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={HEADLINE_WORDS},"
                f" MinWords={HEADLINE_WORDS // 3}, MaxFragments=2, FragmentDelimiter=\" … \"",
                "platform": platform.value if platform is not None else None,
                "workspace": workspace_id,
                "all_channels": channel_ids is None,
                "channels": channel_ids or [],
                "limit": limit,
            },
        )
        return [TranscriptHit.model_validate(dict(r)) for r in rows]  # columns named as its fields


#: Words in a hit's headline (about what SQLite's snippet shows).
HEADLINE_WORDS = 24


def _conninfo_keys(url: str) -> set[str]:
    try:
        return set(conninfo_to_dict(url))
    except psycopg.Error:
        return set()
