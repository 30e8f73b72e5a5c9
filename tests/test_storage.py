"""Storage on real SQLite files: migrations, settings, the job queue, transcripts."""

import sqlite3
import time

import pytest

from bot.models import AudioNote, ChannelSettings, MessageRef, Platform, Segment, Transcript
from storage.migrations import MIGRATIONS
from storage import JobStatus, SQLiteStore


def note(mid: str = "m1", ws: str = "w", channel: str = "c") -> AudioNote:
    return AudioNote(platform=Platform.slack, workspace_id=ws, channel_id=channel, message_id=mid,
                     attachment_id="F" + mid, filename="a.ogg")


@pytest.fixture
async def store(tmp_path):
    s = await SQLiteStore.open(tmp_path / "v.db")
    yield s
    await s.close()


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


async def test_settings_round_trip_and_reset(store):
    assert await store.get_settings(Platform.slack, "w", "c") == ChannelSettings()
    s = ChannelSettings(language="fr", context_bias=["Kubernetes"], diarize=True, summary_threshold_s=None)
    await store.set_settings(Platform.slack, "w", "c", s, by="U1")
    assert await store.get_settings(Platform.slack, "w", "c") == s
    assert await store.get_settings(Platform.discord, "w", "c") == ChannelSettings()  # per platform
    await store.reset_settings(Platform.slack, "w", "c")
    assert await store.get_settings(Platform.slack, "w", "c") == ChannelSettings()


async def test_job_is_idempotent_by_note_key(store):
    assert await store.add_job(note()) is True
    assert await store.add_job(note()) is False
    assert await store.add_job(note("m2")) is True
    assert (await store.job_counts())["queued"] == 2


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


async def test_queued_ahead_counts_platform_and_workspace(store):
    for mid, ws in (("m1", "a"), ("m2", "b"), ("m3", "a"), ("m4", "a")):
        await store.add_job(note(mid, ws=ws))
    assert await store.queued_ahead(note("m1", ws="a").idempotency_key) == (0, 0)
    assert await store.queued_ahead(note("m4", ws="a").idempotency_key) == (3, 2)
    assert await store.queued_ahead(note("m2", ws="b").idempotency_key) == (1, 0)


async def test_lease_skips_other_platforms_and_full_workspaces(store):
    await store.add_job(note("m1", ws="busy"))
    await store.add_job(note("m2", ws="idle"))
    assert await store.lease_job(60, [Platform.discord]) is None
    job = await store.lease_job(60, [Platform.slack], exclude_workspaces=["busy"])
    assert job is not None and job.note.workspace_id == "idle"


async def test_reply_ref_survives_reopen(tmp_path):
    path = tmp_path / "v.db"
    s = await SQLiteStore.open(path)
    await s.add_job(note())
    ref = MessageRef(platform=Platform.slack, channel_id="c", message_id="171.1", thread_id="170.0")
    await s.set_reply(note().idempotency_key, ref)
    await s.close()
    s = await SQLiteStore.open(path)
    job = await s.lease_job(60, [Platform.slack])
    assert job is not None and job.reply_ref == ref
    await s.finish_job(job.key, JobStatus.done)
    assert (await s.job_counts()) == {"done": 1}
    await s.close()


async def test_transcripts_by_thread_purge_and_forget(store):
    t = Transcript(text="hello", segments=[Segment(text="hello", start=0, end=1)])
    await store.save_transcript(note("m1").model_copy(update={"thread_id": "T"}), t)
    await store.save_transcript(note("m2").model_copy(update={"thread_id": "T"}), t)
    await store.save_transcript(note("m3", channel="other"), t)
    rows = await store.thread_transcripts(Platform.slack, "w", "c", "T")
    assert [r.message_id for r in rows] == ["m1", "m2"]
    assert await store.get_transcript(note("m3", channel="other").idempotency_key) == t
    assert await store.purge_transcripts(older_than_days=1) == 0
    assert await store.forget_channel(Platform.slack, "w", "c") == 2
    assert await store.purge_transcripts(older_than_days=-1) == 1


async def test_commits_are_synced_so_an_acked_note_survives_power_loss(tmp_path):
    """WAL with synchronous=NORMAL may lose the last commits on power loss; the insert that precedes an
    event's ack must not be among them."""
    s = await SQLiteStore.open(tmp_path / "v.db")
    async with s._db.execute("PRAGMA synchronous") as cur:
        assert (await cur.fetchone())[0] == 2  # FULL
    await s.close()
