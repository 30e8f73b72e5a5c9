"""Failures inside a running process: a store error in a worker's error path, a crash that loses a lease,
a stop that races a lease. None may lose a note, stall the queue or run work after the core stopped."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx
import pytest

from bot.core import Voxnote
from bot.errors import TranscriptionUnavailable
from bot.metrics import start_health_server
from bot.models import Platform, Segment
from storage import JobStatus, Store
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.test_health import free_port

SEGMENTS = [Segment(text="Still here.", start=0, end=1)]


# `store` (tests/fixtures/stores.py) is each backend in turn: SQLite, and PostgreSQL when
# VOXNOTE_TEST_DATABASE_URL is set. The failures injected below are sqlite3 errors on both: what the
# core must survive is a store call that raises, whatever its type.
@pytest.fixture
def settings(backend):
    return backend.settings(jobs_concurrency=1, lease_seconds=0.6)


class DeadStore:
    """The store as a crashed process leaves it: every call fails and nothing is written."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.dead = False

    def __getattr__(self, name: str):
        real = getattr(self._store, name)
        if not callable(real):  # a setting of the store (its poll interval), not a call
            return real

        async def call(*args, **kwargs):
            if self.dead:
                raise sqlite3.OperationalError("the process is gone")
            return await real(*args, **kwargs)

        return call


async def test_a_worker_survives_an_exception_in_its_error_path(settings, store):
    """The first note fails and recording the failure raises: the only worker must live on."""
    platform = RecordingPlatform()
    settings.max_audio_bytes = 10
    real_finish = store.finish_job
    broken = [True]

    async def finish_job(key, status, error=None):
        if status == JobStatus.failed and broken:
            broken.clear()
            raise sqlite3.OperationalError("database is locked")
        await real_finish(key, status, error)

    store.finish_job = finish_job
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    await core.start()
    try:
        too_big = platform.note(b"x" * 11, message_id="big")
        fine = platform.note(b"ok", message_id="fine")
        await core.submit(too_big, platform)
        await asyncio.sleep(0.2)
        await core.submit(fine, platform)
        await core.wait_idle(timeout=10)
        assert (await store.get_job(fine.idempotency_key)).status == JobStatus.done
        # The note whose failure could not be recorded is not lost either: it ran again and failed plainly.
        assert (await store.get_job(too_big.idempotency_key)).status == JobStatus.failed
        assert core.live_workers == settings.jobs_concurrency
    finally:
        await core.stop()


async def test_a_dead_worker_is_restarted_and_healthz_counts_workers(settings, store):
    platform = RecordingPlatform()
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    port = free_port()
    runner = await start_health_server(store, "127.0.0.1", port, workers=lambda: core.live_workers)
    real_lease = store.lease_job
    failures = [RuntimeError("a bug in the worker loop")]

    async def lease_job(*args, **kwargs):
        if failures:
            raise failures.pop()
        return await real_lease(*args, **kwargs)

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            down = await http.get("/healthz")
            assert down.status_code == 503 and down.json()["workers"] == 0  # not started: no worker runs
            store.lease_job = lease_job
            await core.start()
            await core.submit(platform.note(b"a"), platform)
            await core.wait_idle(timeout=10)
            assert len(platform.of("post_reply")) == 1 and platform.calls[-1].text == "Still here."
            up = await http.get("/healthz")
            assert up.status_code == 200 and up.json()["workers"] == settings.jobs_concurrency
    finally:
        await core.stop()
        await runner.cleanup()


async def test_a_crash_that_loses_the_lease_costs_no_attempt(settings, store):
    """Crashes are not the note's fault: after three lost leases and one real failure, with the default
    budget of 4 tries, the note is retried, not given up."""
    settings.max_attempts = 2
    platform = RecordingPlatform()
    note = platform.note(b"a")
    for _ in range(3):
        dead = DeadStore(store)
        core = Voxnote(settings, dead, ScriptedTranscriber(SEGMENTS, delay=30))
        await core.start()
        await core.submit(note, platform)
        for _ in range(100):
            if core._running_tasks:
                break
            await asyncio.sleep(0.02)
        dead.dead = True  # the process dies: its lease is never renewed nor given back
        await core.stop(grace=0)
        await asyncio.sleep(settings.lease_seconds + 0.1)
    failing = ScriptedTranscriber(SEGMENTS, delay=0, fail=TranscriptionUnavailable("busy (503)"))
    core = Voxnote(settings, store, failing)
    core.register(platform, Platform.console)
    await core.start()
    for _ in range(200):
        job = await store.get_job(note.idempotency_key)
        if failing.requests and job.status != JobStatus.running:
            break
        await asyncio.sleep(0.02)
    await core.stop()
    job = await store.get_job(note.idempotency_key)
    assert job.status == JobStatus.queued, job  # one real failure of two allowed: retried later
    assert job.attempts == 1
    assert len(platform.of("post_reply")) == 1


async def test_a_job_whose_lease_expired_resumes_in_the_same_reply(settings, store):
    """A process dies mid-note (no clean-up at all); the next one takes the job once its lease expires."""
    platform = RecordingPlatform()
    note = platform.note(b"a")
    dead = DeadStore(store)
    core = Voxnote(settings, dead, ScriptedTranscriber(SEGMENTS, delay=30))
    await core.start()
    await core.submit(note, platform)
    for _ in range(100):
        if platform.of("post_reply") and core._running_tasks:
            break
        await asyncio.sleep(0.02)
    dead.dead = True
    await core.stop(grace=0)
    job = await store.get_job(note.idempotency_key)
    assert job.status == JobStatus.running  # nothing gave the job back: only the lease can
    core2 = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    core2.register(platform, Platform.console)
    await core2.start()
    await core2.wait_idle(timeout=10)
    await core2.stop()
    assert len(platform.of("post_reply")) == 1
    assert platform.calls[-1].text == "Still here."
    assert (await store.get_job(note.idempotency_key)).status == JobStatus.done


async def test_stop_while_a_worker_is_leasing_runs_nothing_afterwards(settings, store):
    """A worker inside `lease_job` when `stop()` begins must give its job back, not start it."""
    settings.jobs_concurrency = 2
    settings.jobs_per_workspace = 2
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS, delay=0.3)
    real_lease = store.lease_job
    gate = asyncio.Event()
    gating = False

    async def lease_job(*args, **kwargs):
        if gating:
            await gate.wait()
        # Like aiosqlite, the statement completes even if the caller is cancelled meanwhile.
        return await asyncio.shield(real_lease(*args, **kwargs))

    store.lease_job = lease_job
    core = Voxnote(settings, store, t)
    await core.start()
    first = platform.note(b"a", message_id="first")
    await core.submit(first, platform)
    for _ in range(100):
        if t.requests:
            break
        await asyncio.sleep(0.01)
    gating = True
    second = platform.note(b"b", message_id="second")
    await core.submit(second, platform)
    await asyncio.sleep(0.1)  # the idle worker is now inside lease_job
    stopping = asyncio.create_task(core.stop(grace=5))
    await asyncio.sleep(0.05)
    gate.set()
    await stopping
    await asyncio.sleep(0.5)  # anything still running after stop would show now
    assert len(t.requests) == 1
    assert (await store.get_job(first.idempotency_key)).status == JobStatus.done
    job = await store.get_job(second.idempotency_key)
    assert job.status == JobStatus.queued and job.attempts == 0


async def test_a_deferred_job_frees_its_worker_and_spends_no_attempt(settings, store):
    """A spent platform budget (Slack's 1-per-minute look-up) puts the job back for later, silently."""
    from bot.errors import Deferred

    platform = RecordingPlatform()
    note = platform.note(b"a")
    await store.add_job(note)
    await store.mark_reply_pending(note.idempotency_key)  # a reply was being posted when we stopped

    async def find_reply(_note):
        raise Deferred("conversations.replies budget spent", retry_after=3600)

    platform.find_reply = find_reply
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    core.register(platform, Platform.console)
    await core.start()
    other = platform.note(b"b", message_id="other")
    await core.submit(other, platform)
    await core.wait_idle(timeout=10)  # the only worker was not held by the deferred job
    await core.stop()
    job = await store.get_job(note.idempotency_key)
    assert job.status == JobStatus.queued and job.attempts == 0 and job.next_attempt_at > time.time() + 3000
    assert not [c for c in platform.calls if c.ref.thread_id == "m1"]  # nothing said about it
    assert (await store.get_job(other.idempotency_key)).status == JobStatus.done


async def test_a_retry_after_the_transcript_was_delivered_leaves_the_reply_alone(settings, store, monkeypatch):
    """The final text is in the reply but recording the job done failed: its rerun fails once more. The
    reply must keep the transcript, not turn into 'Couldn't transcribe yet'."""
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)
    platform = RecordingPlatform()
    note = platform.note(b"a")
    real_extras = store.extras_posted
    failures = [sqlite3.OperationalError("disk I/O error")]

    async def extras_posted(key):
        if failures:
            raise failures.pop()
        return await real_extras(key)

    store.extras_posted = extras_posted
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    await core.start()
    await core.submit(note, platform)
    for _ in range(200):
        if (await store.get_job(note.idempotency_key)).status == JobStatus.done:
            break
        await asyncio.sleep(0.02)
    await core.stop()
    texts = [c.text for c in platform.of("edit")]
    assert not any("Couldn't transcribe" in t for t in texts), texts
    assert texts[-1] == "Still here."


async def test_a_failed_lease_renewal_is_tried_again(settings, store, backend):
    """One failed renewal must not let the lease lapse while the job runs (another worker would take it)."""
    platform = RecordingPlatform()
    real_renew = store.renew_lease
    failures = [sqlite3.OperationalError("database is locked")]

    async def renew_lease(key, lease_s):
        if failures:
            raise failures.pop()
        await real_renew(key, lease_s)

    store.renew_lease = renew_lease
    t = ScriptedTranscriber(SEGMENTS * 8, delay=0.25)  # about 2 s: three lease lengths
    core = Voxnote(settings, store, t)
    await core.start()
    note = platform.note(b"a")
    await core.submit(note, platform)
    await asyncio.sleep(1.5)
    job = await store.get_job(note.idempotency_key)
    assert job.status == JobStatus.running and job.lost_leases == 0
    assert await backend.value("SELECT lease_until FROM jobs WHERE key=?", note.idempotency_key) > time.time()  # held
    await core.wait_idle(timeout=10)
    await core.stop()
    assert len(t.requests) == 1
