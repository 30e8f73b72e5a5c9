"""Idle workers on PostgreSQL are woken by LISTEN/NOTIFY when another process queues a job, and the poll
stays the safety net: a listening connection killed on the server comes back and still finds the job.

Two real stores on one real database play two replicas: the job is queued through one, the core runs on
the other. The core's poll is set to a minute, so a job taken within seconds was announced, not polled."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest_asyncio

from bot.core import Voxnote
from bot.models import Platform, Segment
from storage import JobStatus, Store
from storage.postgres import PostgresStore
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.stores import Backend
from tests.fixtures.transcriber import ScriptedTranscriber

#: Far longer than any wait below: a job finished in time was not found by the poll.
NO_POLL_SECONDS = 60.0
PROMPT_SECONDS = 10.0


async def _finished(store: Store, key: str, timeout: float = PROMPT_SECONDS) -> JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await store.get_job(key)
        if job is not None and job.status in (JobStatus.done, JobStatus.failed):
            return job.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {key} was not taken within {timeout} s: {await store.get_job(key)}")


@pytest_asyncio.fixture(loop_scope="function")
async def replicas(postgres_backend: Backend):
    """A core on one store (its poll a minute long), a second store on the same database, the platform."""
    worker_store, other = await postgres_backend.open(), await postgres_backend.open()
    assert isinstance(worker_store, PostgresStore)
    worker_store.work_poll_seconds = NO_POLL_SECONDS
    platform = RecordingPlatform()
    core = Voxnote(postgres_backend.settings(jobs_concurrency=2),
                   worker_store, ScriptedTranscriber([Segment(text="Heard you.", start=0, end=1)], delay=0))
    core.register(platform, Platform.console)  # type: ignore[arg-type]  # the recording platform is the console's
    await core.start()
    await worker_store.listening()
    # The workers have looked once and found nothing: from here on only a notice (or the poll) wakes them.
    await asyncio.sleep(0.3)
    try:
        yield core, worker_store, other, platform
    finally:
        await core.stop(grace=5)
        await worker_store.close()
        await other.close()


async def test_a_job_queued_by_another_process_is_taken_at_once(replicas) -> None:
    core, worker_store, other, platform = replicas
    for i in range(3):
        note = platform.note(b"audio", message_id=f"m{i}")
        assert await other.add_job(note)
        assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    assert [c.text for c in platform.of("edit")][-1] == "Heard you."


async def test_a_killed_listener_comes_back_and_the_job_is_still_taken(replicas, postgres_backend: Backend) -> None:
    core, worker_store, other, platform = replicas
    before = await worker_store.listening()
    assert postgres_backend.database_url is not None
    async with await psycopg.AsyncConnection.connect(postgres_backend.database_url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (before,))
    # Queued while the listener is down (or just back): its notice may reach nobody.
    note = platform.note(b"audio", message_id="after-kill")
    assert await other.add_job(note)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    after = await worker_store.listening()
    assert after != before
    # And it listens again: the next job is announced too.
    again = platform.note(b"audio", message_id="next")
    assert await other.add_job(again)
    assert await _finished(worker_store, again.idempotency_key) == JobStatus.done


async def test_a_job_revived_by_another_process_is_taken_at_once(replicas) -> None:
    core, worker_store, other, platform = replicas
    note = platform.note(b"audio", message_id="failed-once")
    # A job another replica gave up on, then a person asked for it again.
    assert await other.add_job(note)
    await _finished(worker_store, note.idempotency_key)
    await other.finish_job(note.idempotency_key, JobStatus.failed, "gave up")
    assert await other.revive_job(note.idempotency_key)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
