"""The platform-free bot: takes notes and commands from adapters, owns the job workers and settings.

A note becomes a durable job *before* anything else happens, so a crash, a restart or a redelivered
event never loses it nor handles it twice (the job's key is the note's idempotency key)."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import Counter
from datetime import datetime

from bot.platform import ChatPlatform
from bot.commands import CommandContext, run_command
from bot.search import NoteLinks
from bot.config import Settings
from bot.errors import AudioError, CommandError, Deferred, FetchFailed, NotAllowed, Temporary, TranscriptionRejected
from bot.metrics import JOBS_FINISHED, JOBS_RETRIED
from bot.models import AudioNote, ChannelSettings, MessageRef, Platform
from bot.pipeline import PLACEHOLDER, NotePipeline
from bot.speakers import PendingEnrolment, Speakers
from bot.summary.threads import Summaries
from bot.engine.transcriber import Transcriber
from storage import Job, JobStatus, Store

log = logging.getLogger(__name__)

__all__ = ["CommandContext", "Voxnote"]

#: `wait_idle` also waits for retries due this soon (a test's shortened backoff), not for later ones.
IDLE_RETRY_HORIZON_S = 2.0
RETRY_BASE_SECONDS = 20.0
RETRY_MAX_SECONDS = 15 * 60.0
PURGE_EVERY_SECONDS = 3600.0
#: A note whose lease was lost this many times (the process died while on it) is given up: it may be
#: the note that kills the process. Lost leases are not failures of the note, so they spend no attempt.
MAX_LOST_LEASES = 10
#: How long `stop` waits for idle workers to leave `lease_job` and give back what they got.
WORKER_EXIT_SECONDS = 10.0
FINAL_ERRORS = (AudioError, FetchFailed, TranscriptionRejected)


RETRY_HINT = "React with :memo: or use “Transcribe” on the note to try again."


def failure_text(exc: BaseException) -> str:
    return f":warning: Couldn't transcribe this note: {exc}."


class Voxnote:
    def __init__(self, settings: Settings, store: Store, transcriber: Transcriber) -> None:
        self.settings = settings
        self.store = store
        self.transcriber = transcriber
        self.summaries = Summaries(settings, store)
        self.speakers = Speakers(store, max_audio_bytes=settings.max_audio_bytes)
        self.pipeline = NotePipeline(settings, store, transcriber, self.summaries, self.speakers)
        self.platforms: dict[Platform, ChatPlatform] = {}
        self._wake = asyncio.Event()
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._retention: asyncio.Task[None] | None = None
        self._placeholders: dict[str, asyncio.Task[None]] = {}
        self._running: Counter[str] = Counter()
        self._lease_lock = asyncio.Lock()
        self._running_tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        # Notes whose reply says "Queued": their reply switches to the placeholder when work starts.
        self._queued_notices: set[str] = set()
        # Jobs of deleted notes: cancelled, and not put back in the queue.
        self._deleted: set[str] = set()
        # Jobs waiting for a retry, and when it is due (what `wait_idle` waits for).
        self._retries: dict[str, float] = {}

    # --- lifecycle --------------------------------------------------------------------------------

    def register(self, platform: ChatPlatform, kind: Platform) -> None:
        """Adapters register at start-up, so jobs left from before a restart can resume on them."""
        self.platforms[kind] = platform
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        for i in range(self.settings.jobs_concurrency):
            self._spawn_worker(i)
        self._retention = asyncio.create_task(self._purge_loop(), name="voxnote-retention")

    @property
    def live_workers(self) -> int:
        """Workers able to take a job now (`/healthz` fails when none is)."""
        return sum(not w.done() for w in self._workers.values())

    def _spawn_worker(self, index: int) -> None:
        task = asyncio.create_task(self._worker(index), name=f"voxnote-worker-{index}")
        task.add_done_callback(functools.partial(self._worker_ended, index))
        self._workers[index] = task

    def _worker_ended(self, index: int, task: asyncio.Task[None]) -> None:
        """Supervision: a worker that died of anything but a stop is replaced at once."""
        if self._stopping or task.cancelled() or self._workers.get(index) is not task:
            return
        log.error("worker %d died; starting a new one", index, exc_info=task.exception())
        self._spawn_worker(index)

    async def stop(self, grace: float = 30.0) -> None:
        """Take no new work, let running jobs finish within `grace`, requeue the rest for next start.

        Idempotent: a second call (the runner's clean-up after its orderly stop) does nothing."""
        if self._stopping and not self._workers:
            return
        self._stopping = True
        self._wake.set()
        running = list(self._running_tasks.values())
        if running:
            done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Idle workers leave on their own: one that was inside `lease_job` gives its job back rather
        # than start it after the store and engine are closed.
        workers = list(self._workers.values())
        if workers:
            _, stuck = await asyncio.wait(workers, timeout=WORKER_EXIT_SECONDS)
            for worker in stuck:
                worker.cancel()
        if self._retention is not None:
            self._retention.cancel()
        await asyncio.gather(*workers, self._retention or asyncio.sleep(0), *self._placeholders.values(),
                             return_exceptions=True)
        self._workers = {}
        await self.summaries.aclose()

    # --- notes ------------------------------------------------------------------------------------

    async def submit(self, note: AudioNote, platform: ChatPlatform, on_demand: bool = False) -> bool:
        """Queue a note; False when it is a duplicate or the channel only transcribes on request."""
        if note.platform not in self.platforms:
            self.register(platform, note.platform)
        if not on_demand:
            chan = await self.store.get_settings(note.platform, note.workspace_id, note.channel_id)
            if not chan.auto_transcribe:
                return False
        # Held while this process posts the reply (see `_post_placeholder`): with several replicas on one
        # database, a worker elsewhere taking the job meanwhile would post a second reply.
        hold = 0.0 if note.unresolved else self.settings.lease_seconds
        if not await self.store.add_job(note, on_demand, hold_s=hold):
            if (note.language is not None or note.translate) and await self._redo(note):
                return True
            # Asking again for a note that failed retries it, in the reply it already has.
            if on_demand and await self.store.revive_job(note.idempotency_key):
                log.info("failed note %s queued again on request", note.idempotency_key)
                self._wake.set()
                return True
            log.info("duplicate note %s ignored", note.idempotency_key)
            return False
        if note.unresolved:
            # Nothing is posted before the platform says the message holds audio at all.
            self._wake.set()
            return True
        # The reply appears at once, even when the workers are busy with other notes.
        key = note.idempotency_key
        task = asyncio.create_task(self._post_placeholder(key, note, platform))
        self._placeholders[key] = task
        task.add_done_callback(lambda _t: self._placeholders.pop(key, None))
        self._wake.set()
        return True

    async def _redo(self, asked: AudioNote) -> bool:
        """A person asked for the note in a given language, or for its translation: its job runs again in
        the same reply, unless it already runs (or ran) that way. A request adds to the earlier ones
        (🌐 after 🇪🇸 keeps Spanish)."""
        job = await self.store.get_job(asked.idempotency_key)
        if job is None:
            return False
        note = job.note.model_copy(update={"language": asked.language or job.note.language,
                                           "translate": asked.translate or job.note.translate})
        if note == job.note and job.status != JobStatus.failed:
            return False
        if not await self.store.redo_job(note, new_text=note.language != job.note.language):
            return False
        log.info("note %s asked for again (language %s, translation %s)", note.idempotency_key, note.language,
                 note.translate)
        self._wake.set()
        return True

    async def _post_placeholder(self, key: str, note: AudioNote, platform: ChatPlatform) -> None:
        hold = asyncio.create_task(self._keep_hold(key))
        try:
            ahead, ahead_here = await self.store.queued_ahead(key)
            # A worker may have taken the note meanwhile: then it counts in `_running` but waits for nothing.
            waits = key not in self._running_tasks and (
                sum(self._running.values()) + ahead >= self.settings.jobs_concurrency
                or self._running[note.workspace_id] + ahead_here >= self.settings.jobs_per_workspace
            )
            text = PLACEHOLDER
            if waits:
                text = f":hourglass_flowing_sand: Queued (position {ahead + 1})…"
                self._queued_notices.add(key)
            await self._post_reply(key, note, platform, text)
        except Exception:
            # The worker posts the reply itself when this failed.
            log.warning("could not post the placeholder for %s", key, exc_info=True)
        finally:
            hold.cancel()
            try:
                await self.store.hold_job(key, 0)
            except Exception:
                log.warning("could not release %s; it runs once its hold runs out", key, exc_info=True)
            self._wake.set()

    async def _keep_hold(self, key: str) -> None:
        """Renew the hold on a note whose reply is being posted (Slack may make the post wait out a 429)."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self.store.hold_job(key, time.time() + self.settings.lease_seconds)
            except Exception:
                log.warning("renewing the hold on %s failed; trying again", key, exc_info=True)

    async def remember(self, notes: list[AudioNote]) -> None:
        """Keep what a message with media holds, so a later request needs no platform look-up."""
        await self.store.remember_notes(notes)

    async def remembered(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> list[AudioNote]:
        return await self.store.remembered_notes(platform, workspace_id, channel_id, message_id)

    async def _resolve(self, job: Job, platform: ChatPlatform) -> None:
        """An unresolved job asks the platform what its message holds, queues a note per audio file
        (video too when asked for) and ends; its errors are retried like any job's, silently."""
        resolve = getattr(platform, "resolve", None)
        if resolve is None:
            raise FetchFailed(f"{platform.name} cannot resolve {job.note.filename}")
        notes = await resolve(job.note, include_video=job.on_demand)
        if job.note.language is not None or job.note.translate:
            asked = {"language": job.note.language, "translate": job.note.translate}
            notes = [n.model_copy(update=asked) for n in notes]
        if notes:
            await self.remember(notes)
        for note in notes:
            await self.submit(note, platform, on_demand=job.on_demand)
        await self.store.finish_job(job.key, JobStatus.done)
        log.info("%s resolved into %d note(s)", job.key, len(notes))

    async def _reply_for(self, job: Job, platform: ChatPlatform) -> MessageRef:
        pending = self._placeholders.get(job.key)
        if pending is not None:
            await asyncio.shield(pending)
        # Read again: the placeholder may have been posted (and its task gone) since this job was leased.
        fresh = await self.store.get_job(job.key)
        if fresh is not None:
            job = fresh
        if job.reply_ref is not None:
            return job.reply_ref
        find = getattr(platform, "find_reply", None)
        if job.reply_pending and find is not None:
            # A reply was being posted when the last run stopped: it may exist without its id stored.
            found = await find(job.note)
            if found is not None:
                await self.store.set_reply(job.key, found)
                return found
        return await self._post_reply(job.key, job.note, platform, PLACEHOLDER)

    async def _post_reply(self, key: str, note: AudioNote, platform: ChatPlatform, text: str) -> MessageRef:
        """Post the note's reply, marked pending first so a crash in between is found out (`find_reply`)."""
        await self.store.mark_reply_pending(key)
        ref = await platform.post_reply(note, text)
        await self.store.set_reply(key, ref)
        return ref

    async def message_deleted(self, platform: Platform, workspace_id: str, channel_id: str, message_id: str) -> int:
        """The person deleted a message: if it held notes, their transcripts go (a summary can no longer
        quote them), their unfinished jobs stop, and the bot's replies are deleted. Returns how many notes
        it held. Deleting only the bot's reply is not this: the transcript stays."""
        jobs = await self.store.forget_message(platform, workspace_id, channel_id, message_id)
        running = [self._running_tasks[j.key] for j in jobs if j.key in self._running_tasks]
        for job in jobs:
            self._deleted.add(job.key)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if running:
            # A job that stored its transcript while being cancelled: forget it again.
            jobs = await self.store.forget_message(platform, workspace_id, channel_id, message_id)
        chat = self.platforms.get(platform)
        for job in jobs:
            self._deleted.discard(job.key)
            if chat is not None and job.reply_ref is not None:
                try:
                    await chat.delete(job.reply_ref)
                except Exception:
                    log.info("the reply to deleted note %s could not be deleted (already gone?)", job.key,
                             exc_info=True)
        if jobs:
            log.info("note %s deleted: %d transcript(s) and job(s) forgotten", message_id, len(jobs))
        return len(jobs)

    async def wait_idle(self, timeout: float = 60.0) -> None:
        """Until every due job is finished, retries due in the next moments included (tests and
        benchmarks): between a failure and a quick retry a job is due a little later, not done."""
        deadline = time.monotonic() + timeout
        soon = time.time() + IDLE_RETRY_HORIZON_S
        while (self._placeholders or self._running_tasks or await self.store.pending_jobs()
               or any(at <= soon for at in self._retries.values())):
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still pending")
            await asyncio.sleep(0.05)

    # --- workers ----------------------------------------------------------------------------------

    def _full_workspaces(self) -> list[str]:
        cap = self.settings.jobs_per_workspace
        return [ws for ws, n in self._running.items() if n >= cap]

    async def _worker(self, index: int) -> None:
        while not self._stopping:
            job = None
            # Cleared before looking, so a note submitted while we look still wakes us up.
            self._wake.clear()
            try:
                # One lease at a time, the job counted before the next worker looks: two workers leasing
                # together would both see a workspace as not full (and take two of its notes).
                async with self._lease_lock:
                    job = await self.store.lease_job(
                        self.settings.lease_seconds, list(self.platforms), self._full_workspaces()
                    )
                    if job is not None:
                        self._running[job.note.workspace_id] += 1
            except Exception:
                log.exception("leasing a job failed")
            if job is None:
                if not self._stopping:
                    await self._idle()
                continue
            ws = job.note.workspace_id
            if self._stopping:
                self._running[ws] -= 1
                await self.store.requeue_job(job.key, time.time(), "interrupted by shutdown", count_attempt=False)
                return
            task = asyncio.create_task(self._run_job(job))
            self._running_tasks[job.key] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    raise
            except Exception:
                # The job's own error handling failed (a store error while recording the outcome): the
                # worker lives on, and the job runs again once its lease expires.
                log.exception("job %s: recording its outcome failed; it runs again after its lease", job.key)
            finally:
                self._running[ws] -= 1
                if self._running[ws] <= 0:
                    del self._running[ws]
                self._running_tasks.pop(job.key, None)
                self._wake.set()

    async def _idle(self) -> None:
        """Wait until there may be work: a note queued here (`_wake`), work the store announces from another
        process, or the poll interval (retries and expired leases are announced by nobody)."""
        timeout = self.store.work_poll_seconds
        now = time.time()
        # Our own retries are due at known times: look then rather than at the next poll. (One already due
        # may be another replica's to run: the poll covers it, not a busy loop.)
        due = [at - now for at in self._retries.values() if at > now]
        if due:
            timeout = min(timeout, max(0.05, min(due)))
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self.store.wait_for_work(timeout))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _purge_loop(self) -> None:
        """Transcripts are kept `retention_days`, then deleted (checked at start and hourly)."""
        while True:
            try:
                removed = await self.store.purge_transcripts(self.settings.retention_days)
                if removed:
                    log.info("retention: purged %d transcripts older than %d days", removed, self.settings.retention_days)
            except Exception:
                log.exception("retention purge failed")
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    async def _keep_lease(self, key: str) -> None:
        """Renew the lease a third of the way through, and keep trying when a renewal fails: a lease
        left to expire while the job runs lets another worker run the same note at the same time."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self.store.renew_lease(key, self.settings.lease_seconds)
            except Exception:
                log.warning("renewing the lease of %s failed; trying again", key, exc_info=True)

    async def _run_job(self, job: Job) -> None:
        self._retries.pop(job.key, None)
        platform = self.platforms[job.note.platform]
        lease = asyncio.create_task(self._keep_lease(job.key))
        reply: MessageRef | None = None
        try:
            if job.lost_leases >= MAX_LOST_LEASES:
                reason = f"the bot stopped {job.lost_leases} times while transcribing it"
                await self._fail(job, platform, job.reply_ref, f":warning: Couldn't transcribe this note: {reason}. "
                                 f"{RETRY_HINT}", reason)
                return
            if job.note.unresolved:
                await self._resolve(job, platform)
                return
            reply = await self._reply_for(job, platform)
            if job.key in self._queued_notices:
                self._queued_notices.discard(job.key)
                await platform.edit(reply, PLACEHOLDER)
            await self.pipeline.run(job.note, platform, reply)
            await self.store.finish_job(job.key, JobStatus.done)
            JOBS_FINISHED.labels("done").inc()
        except asyncio.CancelledError:
            # Shutdown: the note goes back to the queue without counting this attempt (unless the note
            # itself was deleted: then its job is over).
            if job.key not in self._deleted:
                await self.store.requeue_job(job.key, time.time(), "interrupted by shutdown", count_attempt=False)
            raise
        except FINAL_ERRORS as exc:
            await self._fail(job, platform, reply, failure_text(exc), str(exc))
        except Deferred as exc:
            log.info("job %s waits %.0f s: %s", job.key, exc.retry_after, exc)
            await self.store.requeue_job(job.key, time.time() + exc.retry_after, str(exc), count_attempt=False)
        except Exception as exc:
            await self._retry_or_fail(job, platform, reply, exc)
        finally:
            lease.cancel()

    async def _retry_or_fail(self, job: Job, platform: ChatPlatform, reply: MessageRef | None, exc: Exception) -> None:
        if not isinstance(exc, Temporary):
            log.exception("job %s failed unexpectedly", job.key, exc_info=exc)
        reason = str(exc) if isinstance(exc, Temporary) else "internal error"
        # `attempts` counts the failures before this one: lost leases (crashes) are not the note's fault.
        tries = job.attempts + 1
        if tries >= self.settings.max_attempts:
            await self._fail(
                job, platform, reply,
                f":warning: Couldn't transcribe this note: {reason}. Gave up after {tries} tries. {RETRY_HINT}",
                reason,
            )
            return
        delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (tries - 1)) * random.uniform(0.8, 1.2)
        if isinstance(exc, Temporary) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        at = time.time() + delay
        await self.store.requeue_job(job.key, at, reason)
        self._retries[job.key] = at
        JOBS_RETRIED.inc()
        if await self._transcribed(job.key):
            # The reply already holds (or is about to get) the transcript: a warning would replace it.
            return
        when = datetime.fromtimestamp(at).astimezone().strftime("%H:%M")
        await self._say(platform, reply, f":warning: Couldn't transcribe yet: {reason}. Will retry at {when}.")

    async def _transcribed(self, key: str) -> bool:
        try:
            return await self.store.get_transcript(key) is not None
        except Exception:
            return False

    async def _fail(self, job: Job, platform: ChatPlatform, reply: MessageRef | None, text: str, error: str) -> None:
        await self.store.finish_job(job.key, JobStatus.failed, error)
        JOBS_FINISHED.labels("failed").inc()
        await self._say(platform, reply or job.reply_ref, text)

    async def _say(self, platform: ChatPlatform, reply: MessageRef | None, text: str) -> None:
        try:
            if reply is not None:
                await platform.edit(reply, text)
        except Exception:
            log.warning("could not tell the user: %s", text, exc_info=True)

    # --- commands and settings --------------------------------------------------------------------

    async def run_command(self, ctx: CommandContext, text: str) -> str:
        """Run `/voxnote <text>`; refusals and bad arguments come back as plain replies."""
        if text.strip().lower() in ("summarize", "summarise"):
            platform = self.platforms.get(ctx.platform)
            limit = platform.max_message_chars if platform is not None else 3000
            return await self.summaries.for_thread(ctx.platform, ctx.workspace_id, ctx.channel_id, ctx.thread_id, limit)
        platform = self.platforms.get(ctx.platform)
        links = platform if isinstance(platform, NoteLinks) else None
        try:
            return await run_command(self.store, ctx, text, links)
        except (CommandError, NotAllowed) as exc:
            return f":warning: {exc}"

    async def enrol(self, ctx: CommandContext, note: AudioNote, platform: ChatPlatform, *, name: str,
                    user_id: str) -> PendingEnrolment:
        """An admin asks to enrol `user_id`'s voice from `note`: the audio comes through the adapter, the
        voiceprint is computed off the event loop, and nothing is stored until that person confirms
        (`speakers.answer`). Refusals raise `CommandError` / `NotAllowed` (their text is for the admin)."""
        if not ctx.is_admin:
            raise NotAllowed("only admins can enrol a voice here")
        data = await platform.fetch_audio(note, self.settings.max_audio_bytes)
        return await self.speakers.request(ctx, note, data, name=name, user_id=user_id)

    async def channel_settings(self, platform: Platform, workspace_id: str, channel_id: str) -> ChannelSettings:
        return await self.store.get_settings(platform, workspace_id, channel_id)
