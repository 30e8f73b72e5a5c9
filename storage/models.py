"""Value types the stores hand out: a job of the durable queue, a stored transcript."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from bot.models import AudioNote, MessageRef, Platform, Transcript


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Job(BaseModel):
    id: int
    key: str
    note: AudioNote
    on_demand: bool
    status: JobStatus
    #: Failures so far (a lost lease is not one).
    attempts: int
    reply_ref: MessageRef | None = None
    error: str | None = None
    next_attempt_at: float = 0.0
    reply_pending: bool = False
    #: Times the job was taken over after its lease expired (the process on it died).
    lost_leases: int = 0


class StoredTranscript(BaseModel):
    job_key: str
    platform: Platform
    channel_id: str
    thread_id: str | None
    message_id: str
    transcript: Transcript
    created_at: float


class TranscriptHit(BaseModel):
    """A stored transcript that matched a search: where its note was posted, by whom and when, and a
    bounded snippet with the matched words between `storage.search_text.MARK_START` and `MARK_END`."""

    job_key: str
    platform: Platform
    workspace_id: str
    channel_id: str
    thread_id: str | None
    message_id: str
    author_id: str
    created_at: float
    snippet: str


class Voiceprint(BaseModel):
    """An enrolled voice of a workspace: personal data, kept only once its owner confirmed, listed by
    `/voxnote speaker list`, gone with `speaker remove` or the `/voxnote forget` of the channel it came from."""

    platform: Platform
    workspace_id: str
    name: str
    #: The L2-normalised speaker embedding (float32 in the database); never the audio itself.
    embedding: list[float]
    user_id: str
    enrolled_by: str
    consented_by: str
    #: Where the voice note it was taken from was posted, and its key (what `/voxnote forget` matches).
    channel_id: str
    source_key: str
    created_at: float = 0.0
