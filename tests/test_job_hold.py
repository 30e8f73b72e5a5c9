"""A note is held while the process that received it posts its reply: with replicas on one database, a
worker of another replica that took the job meanwhile would find no reply yet and post a second one.
On both backends: a held job is not leased, a released one is, and a hold left by a dead process runs
out like a lease."""

from __future__ import annotations

import asyncio

from bot.models import AudioNote, Platform
from storage import JobStatus, Store


def note(mid: str = "m1") -> AudioNote:
    return AudioNote(platform=Platform.slack, workspace_id="w", channel_id="c", message_id=mid,
                     attachment_id="F" + mid, filename="a.ogg")


async def test_a_held_job_is_not_leased_until_released(store: Store):
    assert await store.add_job(note(), hold_s=60)
    assert await store.lease_job(30, [Platform.slack]) is None
    await store.hold_job(note().idempotency_key, 0)
    job = await store.lease_job(30, [Platform.slack])
    assert job is not None and job.key == note().idempotency_key


async def test_a_hold_runs_out_like_a_lease(store: Store):
    assert await store.add_job(note(), hold_s=0.2)
    assert await store.lease_job(30, [Platform.slack]) is None
    await asyncio.sleep(0.3)
    job = await store.lease_job(30, [Platform.slack])
    assert job is not None and job.lost_leases == 0 and job.attempts == 0


async def test_releasing_a_job_another_worker_took_changes_nothing(store: Store):
    assert await store.add_job(note(), hold_s=0.01)
    await asyncio.sleep(0.05)
    taken = await store.lease_job(30, [Platform.slack])
    assert taken is not None
    await store.hold_job(taken.key, 0)  # the receiver, late, lets go of a job it no longer holds
    job = await store.get_job(taken.key)
    assert job is not None and job.status == JobStatus.running
    assert await store.lease_job(30, [Platform.slack]) is None  # still the other worker's
