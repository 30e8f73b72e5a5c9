"""The `Store` interface: what the bot keeps (channel settings, the durable job queue, transcripts).

Every backend implements it: `SQLiteStore` (the embedded default), and a PostgreSQL store for several
replicas. Each method is atomic on its own; the queue's guarantees (a job is leased by one worker at a
time, an expired lease makes it ready again, the idempotency key makes a note one job) hold on every backend."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from bot.models import AudioNote, ChannelSettings, MessageRef, Platform, Transcript
from storage.models import Job, JobStatus, StoredTranscript, TranscriptHit, Voiceprint


class StoreUnavailable(Exception):
    """The configured database cannot be opened (unreachable, refused, a bad URL); the message is safe to
    show: it never holds a password."""


class SchemaTooNew(StoreUnavailable):
    """The database was migrated by a newer voxnote than this one."""


class Store(ABC):
    """A store; open it with its backend's `open`, close it with `close`."""

    #: How long an idle worker waits before it looks at the queue again when nothing woke it: jobs that
    #: become due (retries, expired leases) announce themselves to nobody. A backend that announces new
    #: work from other processes (`wait_for_work`) can afford a longer interval.
    work_poll_seconds: float = 1.0

    async def wait_for_work(self, timeout: float) -> None:
        """Return when another process may have queued work, or after `timeout` seconds.

        A notice that arrives while nobody waits is kept for the next call, so a worker that looked at
        the queue and found it empty never misses a job queued since. This default only sleeps: with one
        process per database (SQLite), the core wakes its own workers when it queues a note."""
        await asyncio.sleep(timeout)

    #: Whether several processes may work on this database (PostgreSQL): they then share platform rate
    #: budgets through it (`take_rate_slot`). SQLite has one process, which paces itself in memory.
    several_processes: bool = False

    async def take_rate_slot(self, key: str, limit: int, period: float) -> float:
        """Take one of the `limit` sends that `key` (a platform method, a channel) may make in any `period`
        seconds, counted over every process on the database: 0.0 when taken, else the seconds until one
        frees (nothing is taken then). Only stores that `several_processes` count; others grant all."""
        return 0.0

    @abstractmethod
    async def close(self) -> None:
        """Release the connection(s); the store is unusable afterwards."""

    @abstractmethod
    async def get_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> ChannelSettings:
        """The channel's settings (defaults when none were saved)."""

    @abstractmethod
    async def set_settings(
        self, platform: Platform, workspace_id: str, channel_id: str, settings: ChannelSettings, by: str = ""
    ) -> None:
        """Save the channel's settings, recording who changed them."""

    @abstractmethod
    async def reset_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> None:
        """Back to the defaults."""

    @abstractmethod
    async def add_job(self, note: AudioNote, on_demand: bool = False, hold_s: float = 0.0) -> bool:
        """Store a job for the note; False when a job with the same idempotency key already exists.
        With `hold_s`, no worker takes it for that long (see `hold_job`)."""

    @abstractmethod
    async def hold_job(self, key: str, until: float) -> None:
        """Keep a queued job from being taken before `until` (0: release it now). The process that
        received a note holds it while it posts the note's reply, so a worker of another replica does not
        post a second one meanwhile; a hold left by a process that died runs out like a lease."""

    @abstractmethod
    async def revive_job(self, key: str) -> bool:
        """Queue a failed job again with a fresh attempt budget (a person asked to retry it)."""

    @abstractmethod
    async def redo_job(self, note: AudioNote, *, new_text: bool = True) -> bool:
        """Run the note's job again with `note` (a person asked for another language or a translation), in
        the reply it has: a finished or queued job is queued at once, a running one again when this run
        ends. With `new_text`, the new text's continuations are posted anew. False when the note has no job."""

    @abstractmethod
    async def lease_job(
        self, lease_s: float, platforms: list[Platform], exclude_workspaces: list[str] | None = None
    ) -> Job | None:
        """Take the oldest ready job (queued and due, or running with an expired lease) for one of `platforms`."""

    @abstractmethod
    async def renew_lease(self, key: str, lease_s: float) -> None:
        """Extend a running job's lease (its worker is alive)."""

    @abstractmethod
    async def extras_posted(self, key: str) -> int:
        """How many of the note's extras (continuations, files, summary, in that order) were posted."""

    @abstractmethod
    async def mark_extras_posted(self, key: str, count: int) -> None:
        """Record that the first `count` extras of the note are posted (called after each one)."""

    @abstractmethod
    async def mark_reply_pending(self, key: str) -> None:
        """Record that a reply is about to be posted (a crash before `set_reply` is then detectable)."""

    @abstractmethod
    async def set_reply(self, key: str, ref: MessageRef) -> None:
        """Store the id of the note's reply."""

    @abstractmethod
    async def finish_job(self, key: str, status: JobStatus, error: str | None = None) -> None:
        """End a job as done or failed."""

    @abstractmethod
    async def requeue_job(self, key: str, next_attempt_at: float, error: str | None = None,
                          count_attempt: bool = True) -> None:
        """Put a job back in the queue; `count_attempt` records a failure (False: a shutdown, not a failure)."""

    @abstractmethod
    async def get_job(self, key: str) -> Job | None:
        """The job with this idempotency key, if any."""

    @abstractmethod
    async def job_counts(self) -> dict[str, int]:
        """How many jobs are in each status (health and metrics)."""

    @abstractmethod
    async def pending_jobs(self, due_only: bool = True) -> int:
        """Jobs still to do: running, or queued (and due, unless `due_only` is False)."""

    @abstractmethod
    async def queued_ahead(self, key: str) -> tuple[int, int]:
        """Queued jobs ahead of this one: on its platform, and in its workspace."""

    @abstractmethod
    async def save_transcript(self, note: AudioNote, transcript: Transcript) -> None:
        """Store (or replace) the note's transcript."""

    @abstractmethod
    async def thread_transcripts(
        self, platform: Platform, workspace_id: str, channel_id: str, thread_id: str | None
    ) -> list[StoredTranscript]:
        """Transcripts of one thread (or a whole channel when `thread_id` is None), oldest first."""

    @abstractmethod
    async def get_translation(self, key: str) -> tuple[str | None, bool]:
        """The stored English translation of the note's transcript, and whether its file was posted."""

    @abstractmethod
    async def save_translation(self, key: str, text: str, *, posted: bool = False) -> None:
        """Keep the translation with its transcript (a new transcript drops it)."""

    @abstractmethod
    async def get_transcript(self, key: str) -> Transcript | None:
        """The note's stored transcript, if any (a job that runs again reuses it)."""

    @abstractmethod
    async def purge_transcripts(self, older_than_days: float) -> int:
        """Delete transcripts older than the retention; returns how many."""

    @abstractmethod
    async def remember_notes(self, notes: list[AudioNote]) -> None:
        """Keep the notes one message holds (all of them, audio and video), for a later request."""

    @abstractmethod
    async def remembered_notes(
        self, platform: Platform, workspace_id: str, channel_id: str, message_id: str
    ) -> list[AudioNote]:
        """The notes kept for a message; empty when it was never seen (or is past the retention)."""

    @abstractmethod
    async def forget_message(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> list[Job]:
        """A message was deleted where it was posted: delete the transcripts of its notes and end their
        unfinished jobs (failed, "the note was deleted"); return its jobs (their replies may go too)."""

    @abstractmethod
    async def forget_channel(self, platform: Platform, workspace_id: str, channel_id: str) -> int:
        """Delete every transcript of a channel (`/voxnote forget`), and the voices enrolled from notes
        posted there; returns how many transcripts."""

    @abstractmethod
    async def add_voiceprint(self, voice: Voiceprint) -> None:
        """Enrol (or replace) the workspace's voice under `voice.name` (case-insensitive); only after its
        owner confirmed."""

    @abstractmethod
    async def list_voiceprints(self, platform: Platform, workspace_id: str) -> list[Voiceprint]:
        """The workspace's enrolled voices, by name."""

    @abstractmethod
    async def remove_voiceprint(self, platform: Platform, workspace_id: str, name: str) -> Voiceprint | None:
        """Delete the voice enrolled under `name` (case-insensitive); the deleted one, or None."""

    @abstractmethod
    async def search_transcripts(
        self,
        words: str,
        *,
        platform: Platform | None = None,
        workspace_id: str | None = None,
        channel_ids: list[str] | None = None,
        limit: int = 5,
    ) -> list[TranscriptHit]:
        """The best matches (at most `limit`) for every word of `words` (each a plain word, never query
        syntax) among transcripts and their translations, in `channel_ids` of the workspace (None: every
        channel, for the operator's CLI only); best first. No usable word: no hits."""
