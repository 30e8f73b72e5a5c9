"""Storage on real databases: migrations, settings, the job queue, transcripts.

Every test that takes `store` or `backend` runs on a SQLite file and, when VOXNOTE_TEST_DATABASE_URL is
set, on PostgreSQL too (tests/fixtures/stores.py); the rest check one backend's own promises."""

import asyncio
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.models import AudioNote, ChannelSettings, MessageRef, Platform, Segment, Transcript
from storage import JobStatus, SQLiteStore, StoreUnavailable, open_store
from storage.migrations import MIGRATIONS, POSTGRES_MIGRATIONS
from tests.fixtures.stores import TEST_DATABASE_URL, needs_postgres


def note(mid: str = "m1", ws: str = "w", channel: str = "c") -> AudioNote:
    return AudioNote(platform=Platform.slack, workspace_id=ws, channel_id=channel, message_id=mid,
                     attachment_id="F" + mid, filename="a.ogg")


TEXT = Transcript(text="hello", segments=[Segment(text="hello", start=0, end=1)])


# --- migrations ------------------------------------------------------------------------------------------

def test_both_backends_have_the_same_migrations():
    """Migration N means the same change on both backends: a new one is added to both lists at once."""
    assert len(POSTGRES_MIGRATIONS) == len(MIGRATIONS)


async def test_migrations_set_version_and_reopen(tmp_path):
    path = tmp_path / "v.db"
    s = await SQLiteStore.open(path)
    await s.close()
    s = await SQLiteStore.open(path)  # second open applies nothing and keeps data
    await s.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"channel_settings", "jobs", "transcripts"} <= tables


async def test_reopening_keeps_the_data_and_the_version(backend):
    s = await backend.open()
    await s.add_job(note())
    await s.close()
    s = await backend.open()  # the second open applies nothing
    assert not await s.add_job(note()) and (await s.job_counts()) == {"queued": 1}
    await s.close()
    if backend.name == "postgres":
        assert await backend.value("SELECT version FROM schema_version") == len(POSTGRES_MIGRATIONS)
        assert await backend.value("SELECT COUNT(*) FROM schema_version") == 1
    else:
        assert await backend.value("PRAGMA user_version") == len(MIGRATIONS)


async def test_replicas_starting_together_migrate_once(postgres_backend):
    """Several processes opening a fresh database at once: one migrates, the others wait and find it done."""
    stores = await asyncio.gather(*(postgres_backend.open() for _ in range(4)))
    assert [await s.add_job(note()) for s in stores].count(True) == 1
    for s in stores:
        await s.close()
    assert await postgres_backend.value("SELECT version FROM schema_version") == len(POSTGRES_MIGRATIONS)


# --- settings --------------------------------------------------------------------------------------------

async def test_settings_round_trip_and_reset(store):
    assert await store.get_settings(Platform.slack, "w", "c") == ChannelSettings()
    s = ChannelSettings(language="fr", context_bias=["Kubernetes"], diarize=True, summary_threshold_s=None)
    await store.set_settings(Platform.slack, "w", "c", s, by="U1")
    assert await store.get_settings(Platform.slack, "w", "c") == s
    assert await store.get_settings(Platform.discord, "w", "c") == ChannelSettings()  # per platform
    changed = s.model_copy(update={"language": "de"})
    await store.set_settings(Platform.slack, "w", "c", changed, by="U2")  # an update, not a second row
    assert await store.get_settings(Platform.slack, "w", "c") == changed
    await store.reset_settings(Platform.slack, "w", "c")
    assert await store.get_settings(Platform.slack, "w", "c") == ChannelSettings()


# --- the job queue ---------------------------------------------------------------------------------------

async def test_job_is_idempotent_by_note_key(store):
    assert await store.add_job(note()) is True
    assert await store.add_job(note()) is False
    assert await store.add_job(note("m2"), on_demand=True) is True
    assert (await store.job_counts())["queued"] == 2
    assert (await store.get_job(note("m2").idempotency_key)).on_demand
    assert await store.get_job("no such key") is None


async def test_lease_order_expiry_and_requeue(store):
    await store.add_job(note("m1"))
    await store.add_job(note("m2"))
    job = await store.lease_job(60, [Platform.slack])
    assert job is not None and job.note.message_id == "m1" and job.attempts == 0 and job.lost_leases == 0
    assert job.status == JobStatus.running
    assert await store.queued_ahead(note("m2").idempotency_key) == (0, 0)  # m1 is running, not queued
    # An expired lease (a crashed worker) makes the job available again: a lost lease, not a failed attempt.
    crashed = await store.lease_job(-1, [Platform.slack])
    assert crashed is not None and crashed.note.message_id == "m2"
    again = await store.lease_job(60, [Platform.slack])
    assert again is not None and again.note.message_id == "m2" and again.attempts == 0 and again.lost_leases == 1
    assert await store.lease_job(60, [Platform.slack]) is None
    await store.requeue_job(job.key, time.time() + 3600, "down")
    assert await store.lease_job(60, [Platform.slack]) is None  # not due yet
    assert await store.pending_jobs() == 1  # m2 running; m1 not due
    assert await store.pending_jobs(due_only=False) == 2
    requeued = await store.get_job(job.key)
    assert requeued.status == JobStatus.queued and requeued.attempts == 1 and requeued.error == "down"


async def test_a_renewed_lease_is_not_taken_over(store):
    await store.add_job(note())
    job = await store.lease_job(-1, [Platform.slack])  # already expired...
    await store.renew_lease(job.key, 60)  # ...until its worker renews it
    assert await store.lease_job(60, [Platform.slack]) is None
    await store.renew_lease("no such key", 60)  # a job that ended meanwhile: nothing happens


async def test_a_shutdown_requeue_is_not_a_failure_and_a_revive_resets_the_budget(store):
    await store.add_job(note())
    job = await store.lease_job(60, [Platform.slack])
    await store.requeue_job(job.key, time.time(), "interrupted by shutdown", count_attempt=False)
    assert (await store.get_job(job.key)).attempts == 0
    assert not await store.revive_job(job.key)  # only a failed job is revived
    job = await store.lease_job(60, [Platform.slack])
    await store.requeue_job(job.key, time.time(), "engine down")
    job = await store.lease_job(-1, [Platform.slack])
    job = await store.lease_job(60, [Platform.slack])  # taken over: one lost lease
    await store.finish_job(job.key, JobStatus.failed, "too big")
    failed = await store.get_job(job.key)
    assert (failed.status, failed.error, failed.attempts, failed.lost_leases) == (JobStatus.failed, "too big", 1, 1)
    assert await store.revive_job(job.key)
    revived = await store.get_job(job.key)
    assert (revived.status, revived.error, revived.attempts, revived.lost_leases) == (JobStatus.queued, None, 0, 0)


async def test_queued_ahead_counts_platform_and_workspace(store):
    for mid, ws in (("m1", "a"), ("m2", "b"), ("m3", "a"), ("m4", "a")):
        await store.add_job(note(mid, ws=ws))
    assert await store.queued_ahead(note("m1", ws="a").idempotency_key) == (0, 0)
    assert await store.queued_ahead(note("m4", ws="a").idempotency_key) == (3, 2)
    assert await store.queued_ahead(note("m2", ws="b").idempotency_key) == (1, 0)
    assert await store.queued_ahead("no such key") == (0, 0)


async def test_lease_skips_other_platforms_and_full_workspaces(store):
    await store.add_job(note("m1", ws="busy"))
    await store.add_job(note("m2", ws="idle"))
    assert await store.lease_job(60, [Platform.discord]) is None
    assert await store.lease_job(60, []) is None
    job = await store.lease_job(60, [Platform.slack], exclude_workspaces=["busy"])
    assert job is not None and job.note.workspace_id == "idle"
    assert await store.lease_job(60, [Platform.slack, Platform.discord], exclude_workspaces=["busy", "x"]) is None


async def test_reply_ref_pending_and_extras_survive_reopen(backend):
    s = await backend.open()
    await s.add_job(note())
    key = note().idempotency_key
    await s.mark_reply_pending(key)
    ref = MessageRef(platform=Platform.slack, channel_id="c", message_id="171.1", thread_id="170.0")
    await s.set_reply(key, ref)
    assert await s.extras_posted(key) == 0 and await s.extras_posted("no such key") == 0
    await s.mark_extras_posted(key, 2)
    await s.close()
    s = await backend.open()
    job = await s.lease_job(60, [Platform.slack])
    assert job is not None and job.reply_ref == ref and job.reply_pending
    assert await s.extras_posted(key) == 2
    await s.finish_job(job.key, JobStatus.done)
    assert (await s.job_counts()) == {"done": 1}
    await s.close()


async def test_a_redo_of_a_finished_job_queues_it_with_the_new_note(store):
    await store.add_job(note())
    key = note().idempotency_key
    job = await store.lease_job(60, [Platform.slack])
    await store.mark_extras_posted(key, 3)
    await store.finish_job(key, JobStatus.done)
    spanish = note().model_copy(update={"language": "es"})
    assert await store.redo_job(spanish, new_text=True)
    redone = await store.get_job(key)
    assert redone.status == JobStatus.queued and redone.note.language == "es"
    assert await store.extras_posted(key) == 0  # a new text: its continuations are posted anew
    job = await store.lease_job(60, [Platform.slack])
    assert job.note.language == "es"
    await store.mark_extras_posted(key, 2)
    await store.finish_job(key, JobStatus.failed, "engine down")
    # The same text again (a translation added): queued at once, a failure forgotten, extras kept.
    assert await store.redo_job(spanish.model_copy(update={"translate": True}), new_text=False)
    redone = await store.get_job(key)
    assert (redone.status, redone.error, redone.attempts, redone.note.translate) == (JobStatus.queued, None, 0, True)
    assert await store.extras_posted(key) == 2
    assert not await store.redo_job(note("never seen"))


async def test_a_redo_during_a_run_runs_the_job_once_more_when_it_ends(store):
    await store.add_job(note())
    key = note().idempotency_key
    job = await store.lease_job(60, [Platform.slack])
    await store.mark_extras_posted(key, 2)
    assert await store.redo_job(note().model_copy(update={"translate": True}), new_text=False)
    running = await store.get_job(key)
    assert running.status == JobStatus.running and running.note.translate  # this run goes on
    assert await store.redo_job(note().model_copy(update={"language": "fr"}), new_text=True)  # adds up: new text
    await store.finish_job(key, JobStatus.failed, "whatever this run's outcome")
    queued = await store.get_job(key)
    assert (queued.status, queued.error, queued.note.language) == (JobStatus.queued, None, "fr")
    assert await store.extras_posted(key) == 0  # a new text was asked for during the run
    job = await store.lease_job(60, [Platform.slack])  # leasing clears the request: this run serves it
    await store.finish_job(key, JobStatus.done)
    assert (await store.get_job(key)).status == JobStatus.done


async def test_a_same_text_redo_during_a_run_keeps_the_posted_extras(store):
    await store.add_job(note())
    key = note().idempotency_key
    await store.lease_job(60, [Platform.slack])
    await store.mark_extras_posted(key, 2)
    assert await store.redo_job(note().model_copy(update={"translate": True}), new_text=False)
    await store.finish_job(key, JobStatus.done)
    assert (await store.get_job(key)).status == JobStatus.queued and await store.extras_posted(key) == 2


async def test_two_stores_on_one_database_never_lease_a_job_twice(backend):
    """What replicas do: several processes' workers leasing from one queue at once."""
    stores = [await backend.open() for _ in range(2)]
    for i in range(40):
        await stores[0].add_job(note(f"m{i:02}"))
    taken: list[str] = []

    async def worker(s):
        while (job := await s.lease_job(60, [Platform.slack])) is not None:
            taken.append(job.key)
            await s.finish_job(job.key, JobStatus.done)

    await asyncio.gather(*(worker(s) for s in stores for _ in range(3)))
    for s in stores:
        await s.close()
    assert sorted(taken) == sorted(note(f"m{i:02}").idempotency_key for i in range(40))


# --- transcripts -----------------------------------------------------------------------------------------

async def test_transcripts_by_thread_purge_and_forget(store):
    await store.save_transcript(note("m1").model_copy(update={"thread_id": "T"}), TEXT)
    await store.save_transcript(note("m2").model_copy(update={"thread_id": "T"}), TEXT)
    await store.save_transcript(note("m3", channel="other"), TEXT)
    rows = await store.thread_transcripts(Platform.slack, "w", "c", "T")
    assert [r.message_id for r in rows] == ["m1", "m2"]
    assert rows[0].transcript == TEXT and rows[0].thread_id == "T" and rows[0].job_key == note("m1").idempotency_key
    assert [r.message_id for r in await store.thread_transcripts(Platform.slack, "w", "c", None)] == ["m1", "m2"]
    assert await store.get_transcript(note("m3", channel="other").idempotency_key) == TEXT
    assert await store.get_transcript("no such key") is None
    assert await store.purge_transcripts(older_than_days=1) == 0
    assert await store.forget_channel(Platform.slack, "w", "c") == 2
    assert await store.purge_transcripts(older_than_days=-1) == 1


async def test_a_translation_lives_and_dies_with_its_text(store):
    key = note().idempotency_key
    assert await store.get_translation(key) == (None, False)
    await store.save_transcript(note(), TEXT)
    await store.save_translation(key, "hello in English")
    assert await store.get_translation(key) == ("hello in English", False)
    await store.save_translation(key, "hello in English", posted=True)
    await store.save_transcript(note(), TEXT)  # the same text again (a redo): the translation stays
    assert await store.get_translation(key) == ("hello in English", True)
    await store.save_transcript(note(), Transcript(text="hola", segments=[Segment(text="hola", start=0, end=1)]))
    assert await store.get_translation(key) == (None, False)  # a new text: the old translation is gone
    assert (await store.get_transcript(key)).text == "hola"


async def test_remembered_notes_are_replaced_purged_and_forgotten(store):
    assert await store.remembered_notes(Platform.slack, "w", "c", "m1") == []
    await store.remember_notes([])
    audio, video = note("m1"), note("m1").model_copy(update={"attachment_id": "V", "filename": "v.mp4"})
    await store.remember_notes([audio])
    await store.remember_notes([audio, video])  # the message edited: what it holds now
    assert await store.remembered_notes(Platform.slack, "w", "c", "m1") == [audio, video]
    await store.remember_notes([note("m2")])
    assert await store.forget_channel(Platform.slack, "w", "c") == 0  # no transcripts, but the notes go
    assert await store.remembered_notes(Platform.slack, "w", "c", "m1") == []
    await store.remember_notes([audio])
    await store.purge_transcripts(older_than_days=-1)
    assert await store.remembered_notes(Platform.slack, "w", "c", "m1") == []


async def test_forgetting_a_message_ends_its_jobs_and_deletes_only_its_data(store):
    # A `_` in the id: a LIKE prefix would match the neighbour `mx1` too.
    running, queued = note("m_1"), note("m_1").model_copy(update={"attachment_id": "F2"})
    other = note("mx1")
    await store.add_job(running)
    await store.lease_job(60, [Platform.slack])
    await store.add_job(other)
    await store.lease_job(60, [Platform.slack])
    await store.finish_job(other.idempotency_key, JobStatus.done)
    await store.add_job(queued)
    for n in (running, queued, other):
        await store.save_transcript(n, TEXT)
    await store.remember_notes([running, queued])
    await store.remember_notes([other])
    jobs = await store.forget_message(Platform.slack, "w", "c", "m_1")
    assert sorted(j.key for j in jobs) == sorted([running.idempotency_key, queued.idempotency_key])
    assert all(j.status == JobStatus.failed and j.error == "the note was deleted" for j in jobs)
    assert await store.get_transcript(running.idempotency_key) is None
    assert await store.get_transcript(queued.idempotency_key) is None
    assert await store.remembered_notes(Platform.slack, "w", "c", "m_1") == []
    assert await store.get_transcript(other.idempotency_key) == TEXT
    assert await store.remembered_notes(Platform.slack, "w", "c", "mx1") == [other]
    assert (await store.get_job(other.idempotency_key)).status == JobStatus.done
    assert await store.lease_job(60, [Platform.slack]) is None  # nothing of the deleted message runs again
    assert await store.forget_message(Platform.slack, "w", "c", "never posted") == []


# --- one backend's own promises --------------------------------------------------------------------------

async def test_commits_are_synced_so_an_acked_note_survives_power_loss(tmp_path):
    """WAL with synchronous=NORMAL may lose the last commits on power loss; the insert that precedes an
    event's ack must not be among them."""
    s = await SQLiteStore.open(tmp_path / "v.db")
    async with s._db.execute("PRAGMA synchronous") as cur:
        assert (await cur.fetchone())[0] == 2  # FULL
    await s.close()


async def test_a_database_url_makes_no_sqlite_file(postgres_backend):
    s = await open_store(postgres_backend.db_path, postgres_backend.database_url)
    await s.add_job(note())
    await s.close()
    assert not postgres_backend.db_path.exists() and list(postgres_backend.db_path.parent.iterdir()) == []


@needs_postgres
async def test_a_refused_connection_names_the_server_but_not_the_password(caplog):
    assert TEST_DATABASE_URL is not None
    password = "Wr0ng-p@ss%word"
    from urllib.parse import quote, urlsplit

    parts = urlsplit(TEST_DATABASE_URL)
    host = parts.hostname or "127.0.0.1"
    bad = f"postgresql://voxnote_nobody:{quote(password, safe='')}@{host}:{parts.port or 5432}/nodb"
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreUnavailable) as raised:
        await open_store("unused.db", bad)
    message = str(raised.value)
    assert "voxnote_nobody:***@" in message and host in message
    everything = message + repr(raised.value) + caplog.text
    assert password not in everything and quote(password, safe="") not in everything
    with pytest.raises(StoreUnavailable, match="must start with postgresql://"):
        await open_store("unused.db", "mysql://root:hunter2@db/voxnote")


def _bot_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_", "MISTRAL_"))}
    # The Mistral client needs no model on disk; the console adapter ends at the end of its (empty) input.
    return {**keep, "VOXNOTE_TRANSCRIBER": "mistral", "VOXNOTE_MISTRAL_BASE_URL": "http://127.0.0.1:9", **extra}


def _password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).password or "") or "no password in the test URL"


async def test_voxnote_run_on_postgres_keeps_everything_there(postgres_backend, tmp_path):
    """`voxnote run` with VOXNOTE_DATABASE_URL: the schema is made on the server, no SQLite file anywhere."""
    url = postgres_backend.database_url
    run = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("voxnote")), "run", cwd=tmp_path, env=_bot_env(VOXNOTE_DATABASE_URL=url),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(run.communicate(), 120)
    assert run.returncode == 0, err.decode()
    assert list(tmp_path.iterdir()) == []  # no voxnote.db (nor -wal, -shm)
    assert await postgres_backend.value("SELECT version FROM schema_version") == len(POSTGRES_MIGRATIONS)
    assert _password(url) not in (out + err).decode()


async def test_voxnote_run_with_a_wrong_password_says_so_without_showing_it(tmp_path):
    if TEST_DATABASE_URL is None:
        pytest.skip("VOXNOTE_TEST_DATABASE_URL is not set")
    parts = urlsplit(TEST_DATABASE_URL)
    secret = "n0t-The-Passw0rd"
    bad = urlunsplit(parts._replace(netloc=f"voxnote_nobody:{secret}@{parts.hostname}:{parts.port or 5432}"))
    run = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("voxnote")), "run", cwd=tmp_path, env=_bot_env(VOXNOTE_DATABASE_URL=bad),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(run.communicate(), 120)
    text = (out + err).decode()
    assert run.returncode != 0 and "VOXNOTE_DATABASE_URL" in text and "voxnote_nobody:***@" in text, text
    assert secret not in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []
