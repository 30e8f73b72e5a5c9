"""Idle workers on PostgreSQL are woken by LISTEN/NOTIFY when another process queues a job, and the poll
stays the safety net: a listening connection killed on the server comes back and still finds the job.
A new note is announced once its reply is posted, so another replica never races the placeholder.

Two real stores on one real database play two replicas: a core without workers takes the notes (as the
replica that received the event), the other core's workers run them. Their poll is set to a minute, so a
job taken within seconds was announced, not polled."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
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


class SlowToPost(RecordingPlatform):
    """Posting a reply takes a while (a busy channel's budget): the window another replica could race."""

    post_delay = 0.0

    async def post_reply(self, note, text):
        await asyncio.sleep(self.post_delay)
        return await super().post_reply(note, text)


@pytest_asyncio.fixture(loop_scope="function")
async def replicas(postgres_backend: Backend, request: pytest.FixtureRequest):
    """The receiving replica (a core without workers) and the working one (its poll a minute long unless
    the test asks for another), each on its own store on one database, and the platform both talk to."""
    worker_store, other = await postgres_backend.open(), await postgres_backend.open()
    assert isinstance(worker_store, PostgresStore)
    worker_store.work_poll_seconds = getattr(request, "param", NO_POLL_SECONDS)
    platform = SlowToPost()
    transcriber = ScriptedTranscriber([Segment(text="Heard you.", start=0, end=1)], delay=0)
    core = Voxnote(postgres_backend.settings(jobs_concurrency=2), worker_store, transcriber)
    receiver = Voxnote(postgres_backend.settings(jobs_concurrency=0), other, transcriber)
    for c in (core, receiver):
        c.register(platform, Platform.console)  # type: ignore[arg-type]  # the recording platform is the console's
        await c.start()
    await worker_store.listening()
    # The workers have looked once and found nothing: from here on only a notice (or the poll) wakes them.
    await asyncio.sleep(0.3)
    try:
        yield core, worker_store, receiver, platform
    finally:
        await core.stop(grace=5)
        await receiver.stop(grace=5)
        await worker_store.close()
        await other.close()


async def test_a_job_queued_by_another_process_is_taken_at_once(replicas) -> None:
    core, worker_store, receiver, platform = replicas
    for i in range(3):
        note = platform.note(b"audio", message_id=f"m{i}")
        assert await receiver.submit(note, platform)
        assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    assert [c.text for c in platform.of("edit")][-1] == "Heard you."
    assert len(platform.of("post_reply")) == 3


async def test_a_replica_woken_for_a_new_note_does_not_race_its_placeholder(replicas) -> None:
    core, worker_store, receiver, platform = replicas
    platform.post_delay = 0.5
    note = platform.note(b"audio", message_id="busy-channel")
    assert await receiver.submit(note, platform)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    [reply] = platform.of("post_reply")  # the receiver's placeholder, finished by the other replica
    assert platform.texts(reply.ref.message_id)[-1] == "Heard you."


@pytest.mark.parametrize("replicas", [0.05], indirect=True, ids=["polling"])
async def test_another_replica_polling_meanwhile_leaves_a_new_note_to_its_placeholder(replicas) -> None:
    """The poll finds jobs nobody announced: it must not find a new note before its reply is posted."""
    core, worker_store, receiver, platform = replicas
    platform.post_delay = 0.5
    note = platform.note(b"audio", message_id="polled")
    assert await receiver.submit(note, platform)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    [reply] = platform.of("post_reply")
    assert platform.texts(reply.ref.message_id)[-1] == "Heard you."


@pytest.mark.parametrize("replicas", [0.05], indirect=True, ids=["polling"])
async def test_a_hold_outlasting_the_lease_is_renewed_while_the_reply_waits(replicas) -> None:
    """Posting the reply waits longer than a lease (a channel's budget is spent): the hold is renewed, so
    the other replica does not take the note meanwhile."""
    core, worker_store, receiver, platform = replicas
    receiver.settings.lease_seconds = 0.6
    platform.post_delay = 1.5
    note = platform.note(b"audio", message_id="slow-channel")
    assert await receiver.submit(note, platform)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    [reply] = platform.of("post_reply")
    assert platform.texts(reply.ref.message_id)[-1] == "Heard you."


@pytest.mark.parametrize("replicas", [0.2], indirect=True, ids=["polling"])
async def test_a_note_held_by_a_replica_that_died_is_taken_when_the_hold_expires(replicas) -> None:
    core, worker_store, receiver, platform = replicas
    note = platform.note(b"audio", message_id="orphan")
    assert await receiver.store.add_job(note, hold_s=0.5)  # ... and the receiver died before its reply
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    assert len(platform.of("post_reply")) == 1


async def test_a_killed_listener_comes_back_and_the_job_is_still_taken(replicas, postgres_backend: Backend) -> None:
    core, worker_store, receiver, platform = replicas
    before = await worker_store.listening()
    assert postgres_backend.database_url is not None
    async with await psycopg.AsyncConnection.connect(postgres_backend.database_url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (before,))
    # Queued while the listener is down (or just back): its notice may reach nobody.
    note = platform.note(b"audio", message_id="after-kill")
    assert await receiver.submit(note, platform)
    assert await _finished(worker_store, note.idempotency_key) == JobStatus.done
    after = await worker_store.listening()
    assert after != before
    # And it listens again: the next job is announced too.
    again = platform.note(b"audio", message_id="next")
    assert await receiver.submit(again, platform)
    assert await _finished(worker_store, again.idempotency_key) == JobStatus.done


async def test_a_job_revived_by_another_process_is_taken_at_once(replicas) -> None:
    core, worker_store, receiver, platform = replicas
    note = platform.note(b"audio", message_id="failed-once")
    # A job that failed, then a person asked for it again on the receiving replica.
    assert await receiver.submit(note, platform)
    await _finished(worker_store, note.idempotency_key)
    await receiver.store.finish_job(note.idempotency_key, JobStatus.failed, "gave up")
    assert await receiver.submit(note, platform, on_demand=True)  # revived: announced by revive_job
    deadline = time.monotonic() + PROMPT_SECONDS
    while (await worker_store.get_job(note.idempotency_key)).status != JobStatus.done:
        assert time.monotonic() < deadline, "the revived job was not taken"
        await asyncio.sleep(0.05)
    assert len(platform.of("post_reply")) == 1  # in the reply it has


async def test_a_worker_that_looks_while_a_note_is_stored_waits_for_its_placeholder(backend: Backend) -> None:
    """A worker looks at the queue between storing a note and registering its placeholder (its poll, or
    another note's notice, wakes it then): it must finish the note in the placeholder's reply, not post a
    second one. On both backends (the note is held until its reply is posted)."""
    store = await backend.open()
    store.work_poll_seconds = 0.05
    platform = RecordingPlatform()
    core = Voxnote(backend.settings(jobs_concurrency=1), store,
                   ScriptedTranscriber([Segment(text="Heard you.", start=0, end=1)], delay=0))
    core.register(platform, Platform.console)  # type: ignore[arg-type]
    stored = store.add_job

    async def add_job_then_pause(note, on_demand=False, hold_s=0.0):
        added = await stored(note, on_demand, hold_s)
        await asyncio.sleep(0.3)  # the worker polls (several times) before `submit` goes on
        return added

    store.add_job = add_job_then_pause  # type: ignore[method-assign]
    await core.start()
    try:
        note = platform.note(b"audio", message_id="just-stored")
        assert await core.submit(note, platform)
        assert await _finished(store, note.idempotency_key) == JobStatus.done
        await core.wait_idle(timeout=10)  # the placeholder task too, had it gone on to post
        [reply] = platform.of("post_reply")
        assert platform.texts(reply.ref.message_id)[-1] == "Heard you."
    finally:
        await core.stop(grace=5)
        await store.close()
