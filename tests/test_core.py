"""The core end to end on a recording platform: placeholder, live edits, final text, dedup,
typed errors as plain messages, retries, restarts, per-channel settings."""

import asyncio

import pytest

from bot.core import Voxnote
from bot.errors import CorruptAudio, FetchFailed, TranscriptionUnavailable
from bot.models import ChannelSettings, Platform, Segment
from storage import JobStatus
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.transcriber import ScriptedTranscriber

SEGMENTS = [Segment(text=f"Part {i} of the note.", start=i, end=i + 1) for i in range(6)]


# `store` (tests/fixtures/stores.py) is each backend in turn: SQLite, and PostgreSQL when
# VOXNOTE_TEST_DATABASE_URL is set.
@pytest.fixture
def settings(backend):
    return backend.settings(jobs_concurrency=2, max_attempts=2)


async def run_core(settings, store, transcriber, platform, notes, on_demand=False):
    core = Voxnote(settings, store, transcriber)
    await core.start()
    results = [await core.submit(n, platform, on_demand=on_demand) for n in notes]
    await core.wait_idle()
    await core.stop()
    return core, results


async def test_note_streams_into_one_reply(settings, store):
    platform = RecordingPlatform(min_edit_interval=0.1)
    t = ScriptedTranscriber(SEGMENTS, delay=0.08)
    _, ok = await run_core(settings, store, t, platform, [platform.note(b"audio")])
    assert ok == [True]
    [post] = platform.of("post_reply")
    texts = platform.texts(post.ref.message_id)
    assert "Transcribing" in texts[0]
    partials = texts[1:-1]
    assert partials and all(p.endswith(" …") for p in partials)  # grew live
    assert texts[-1] == " ".join(s.text for s in SEGMENTS)
    edits = [c.at for c in platform.of("edit")]
    # Partials are paced per message; the final text goes as soon as it is ready.
    assert all(b - a >= 0.1 - 0.01 for a, b in zip(edits[:-1], edits[1:-1]))
    assert t.requests[0].file == b"audio"
    job = await store.get_job(platform.note(b"audio").idempotency_key)
    assert job.status == JobStatus.done
    assert (await store.get_transcript(job.key)).text == texts[-1]


async def test_duplicate_delivery_gives_one_reply(settings, store):
    platform = RecordingPlatform()
    note = platform.note(b"audio")
    _, ok = await run_core(settings, store, ScriptedTranscriber(SEGMENTS[:1], delay=0), platform, [note, note, note])
    assert ok == [True, False, False]
    assert len(platform.of("post_reply")) == 1


async def test_channel_settings_reach_the_request(settings, store):
    await store.set_settings(Platform.console, "w", "c",
                             ChannelSettings(language="fr", context_bias=["Kubernetes"], diarize=True))
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS[:1], delay=0)
    await run_core(settings, store, t, platform, [platform.note(b"a")])
    req = t.requests[0]
    assert req.language == "fr" and req.context_bias == ["Kubernetes"] and req.diarize


async def test_auto_off_ignores_until_on_demand(settings, store):
    await store.set_settings(Platform.console, "w", "c", ChannelSettings(auto_transcribe=False))
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS[:1], delay=0)
    _, ok = await run_core(settings, store, t, platform, [platform.note(b"a")])
    assert ok == [False] and not platform.calls
    _, ok = await run_core(settings, store, t, platform, [platform.note(b"a")], on_demand=True)
    assert ok == [True] and len(platform.of("post_reply")) == 1


async def test_public_url_used_when_transcriber_fetches(settings, store):
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS[:1], delay=0, can_fetch_urls=True)
    await run_core(settings, store, t, platform, [platform.note(b"a", public_url="https://cdn.example/a.ogg")])
    assert t.requests[0].file_url == "https://cdn.example/a.ogg" and t.requests[0].file is None


@pytest.mark.parametrize(
    "error, expected",
    [(CorruptAudio("the audio file is damaged or truncated"), "damaged"),
     (FetchFailed("Slack refused the download (403)"), "403")],
)
async def test_final_errors_become_one_plain_message(settings, store, error, expected):
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS, fail=error)
    await run_core(settings, store, t, platform, [platform.note(b"a")])
    last = platform.calls[-1]
    assert last.kind == "edit" and expected in last.text and "Traceback" not in last.text
    assert len(t.requests) == 1  # not retried
    job = await store.get_job(platform.note(b"a").idempotency_key)
    assert job.status == JobStatus.failed


async def test_too_large_refused_before_download(settings, store):
    platform = RecordingPlatform()
    settings.max_audio_bytes = 10
    t = ScriptedTranscriber(SEGMENTS)
    await run_core(settings, store, t, platform, [platform.note(b"x" * 11)])
    assert "too large" in platform.calls[-1].text or "limit" in platform.calls[-1].text
    assert not t.requests


async def test_unavailable_service_is_retried_then_reported(settings, store, monkeypatch):
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)
    platform = RecordingPlatform()
    t = ScriptedTranscriber(SEGMENTS, fail=TranscriptionUnavailable("service unavailable (503)"))
    await run_core(settings, store, t, platform, [platform.note(b"a")])
    assert len(t.requests) == settings.max_attempts
    texts = [c.text for c in platform.of("edit")]
    assert any("Will retry at" in x for x in texts)
    assert "Gave up after 2 tries" in texts[-1]
    assert len(platform.of("post_reply")) == 1


async def test_long_note_gets_a_summary_in_the_thread(settings, store):
    await store.set_settings(Platform.console, "w", "c", ChannelSettings(summary_threshold_s=3))
    platform = RecordingPlatform()
    segs = [Segment(text="We decided to ship on Friday.", start=0, end=2, speaker_id="speaker_1"),
            Segment(text="Alice, can you write the release notes by Thursday?", start=2, end=5,
                    speaker_id="speaker_2")]
    await run_core(settings, store, ScriptedTranscriber(segs, delay=0), platform, [platform.note(b"a")])
    [summary] = platform.of("post_in_thread")
    assert "release notes" in summary.text and "automatic extract" in summary.text.lower()
    # Short notes get none.
    platform2 = RecordingPlatform()
    await run_core(settings, store, ScriptedTranscriber(segs[:1], delay=0), platform2, [platform2.note(b"b", "m2")])
    assert not platform2.of("post_in_thread")


async def test_summarize_command_covers_the_thread_in_order(settings, store):
    from bot.commands import CommandContext

    platform = RecordingPlatform()
    notes = [platform.note(b"a", "m1", thread_id="T"), platform.note(b"b", "m2", thread_id="T")]
    core, _ = await run_core(settings, store, ScriptedTranscriber(
        [Segment(text="Bob, please book the room by Monday.", start=0, end=3)], delay=0), platform, notes)
    ctx = CommandContext(Platform.console, "w", "c", "u", is_admin=False, thread_id="T")
    text = await core.run_command(ctx, "summarize")
    assert "book the room" in text
    empty = await core.run_command(CommandContext(Platform.console, "w", "c", "u", False, thread_id="X"), "summarize")
    assert "no transcript" in empty


async def test_asking_again_retries_a_failed_note_in_the_same_reply(settings, store, monkeypatch):
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)
    platform = RecordingPlatform()
    note = platform.note(b"a")
    await run_core(settings, store, ScriptedTranscriber(SEGMENTS, fail=TranscriptionUnavailable("down")), platform,
                   [note])
    assert "Gave up" in platform.calls[-1].text and "try again" in platform.calls[-1].text
    # The same event redelivered is still a duplicate; an explicit request revives the job.
    _, ok = await run_core(settings, store, ScriptedTranscriber(SEGMENTS[:1], delay=0), platform, [note])
    assert ok == [False]
    _, ok = await run_core(settings, store, ScriptedTranscriber(SEGMENTS[:1], delay=0), platform, [note],
                           on_demand=True)
    assert ok == [True]
    assert platform.calls[-1].text == SEGMENTS[0].text
    assert len(platform.of("post_reply")) == 1
    assert (await store.get_job(note.idempotency_key)).status == JobStatus.done


async def test_reply_posted_just_before_a_crash_is_reused(settings, store):
    """The previous run posted the placeholder but died before storing its id."""
    platform = RecordingPlatform()
    note = platform.note(b"a")
    await store.add_job(note)
    await store.mark_reply_pending(note.idempotency_key)
    await platform.post_reply(note, "placeholder of the run that crashed")
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS[:1], delay=0))
    core.register(platform, Platform.console)
    await core.start()
    await core.wait_idle()
    await core.stop()
    assert len(platform.of("post_reply")) == 1
    assert platform.calls[-1].text == SEGMENTS[0].text


async def test_a_busy_workspace_cannot_starve_another_and_backlog_shows_positions(settings, store):
    settings.jobs_concurrency = 2
    settings.jobs_per_workspace = 1
    platform = RecordingPlatform(min_edit_interval=0.01)
    t = ScriptedTranscriber(SEGMENTS[:2], delay=0.1)
    core = Voxnote(settings, store, t)
    await core.start()
    busy = [platform.note(b"a", f"a{i}", workspace_id="busy") for i in range(5)]
    for note in busy:
        await core.submit(note, platform)
    quiet = platform.note(b"b", "b0", workspace_id="quiet")
    await core.submit(quiet, platform)
    await core.wait_idle()
    await core.stop()
    order = [r.file for r in t.requests]
    # The quiet workspace's note is among the first two started, not after the busy backlog.
    assert order.index(b"b") <= 1, order
    placeholders = [c.text for c in platform.of("post_reply")]
    assert any("Queued (position" in p for p in placeholders), placeholders


async def test_rerun_after_a_crash_reuses_the_transcript_and_posts_extras_once(settings, store):
    """The job ran to the end but the process died before marking it done: it runs again."""
    platform = RecordingPlatform(max_message_chars=60)  # the transcript needs continuation messages
    note = platform.note(b"a")
    t = ScriptedTranscriber(SEGMENTS, delay=0)
    await run_core(settings, store, t, platform, [note])
    posted = [c.kind for c in platform.calls if c.kind in ("post_in_thread", "upload")]
    assert posted and len(t.requests) == 1
    await store.requeue_job(note.idempotency_key, 0, "crash simulated")
    core = Voxnote(settings, store, t)
    core.register(platform, Platform.console)
    await core.start()
    await core.wait_idle()
    await core.stop()
    assert len(t.requests) == 1  # not transcribed again
    assert [c.kind for c in platform.calls if c.kind in ("post_in_thread", "upload")] == posted
    assert (await store.get_job(note.idempotency_key)).status == JobStatus.done


async def test_a_crash_part_way_through_the_extras_reposts_none_of_those_already_posted(settings, store, monkeypatch):
    """Continuations, files and the summary are recorded one by one as they are posted."""
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)
    platform = RecordingPlatform(max_message_chars=45)  # several continuation messages
    real_post = platform.post_in_thread
    calls = 0

    async def post_in_thread(ref, text):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the process died here")
        return await real_post(ref, text)

    platform.post_in_thread = post_in_thread
    note = platform.note(b"a")
    t = ScriptedTranscriber(SEGMENTS, delay=0)
    core = Voxnote(settings, store, t)
    await core.start()
    await core.submit(note, platform)
    for _ in range(300):
        job = await store.get_job(note.idempotency_key)
        if job.status == JobStatus.done:
            break
        await asyncio.sleep(0.02)
    await core.stop()
    continuations = [c.text for c in platform.of("post_in_thread")]
    assert len(continuations) == len(set(continuations)) >= 2  # each once, the first not reposted
    uploads = [c.text for c in platform.of("upload")]  # the file names
    assert uploads and len(uploads) == len(set(uploads)) and len(t.requests) == 1


async def test_a_deleted_note_loses_its_transcript_reply_and_queued_job(settings, store):
    """Deleting a note removes what the bot kept of it; /voxnote summarize no longer quotes it."""
    platform = RecordingPlatform()
    kept = platform.note(b"a", message_id="kept")
    gone = platform.note(b"b", message_id="gone")
    core, _ = await run_core(settings, store, ScriptedTranscriber(SEGMENTS[:1], delay=0), platform, [kept, gone])
    queued = platform.note(b"c", message_id="queued")
    await store.add_job(queued)  # waiting behind a busy queue when its note is deleted
    reply_of_gone = (await store.get_job(gone.idempotency_key)).reply_ref
    assert await core.message_deleted(Platform.console, "w", "c", "gone") == 1
    assert await core.message_deleted(Platform.console, "w", "c", "queued") == 1
    assert await store.get_transcript(gone.idempotency_key) is None
    assert await store.get_transcript(kept.idempotency_key) is not None
    assert [c.ref for c in platform.of("delete")] == [reply_of_gone]
    assert (await store.get_job(queued.idempotency_key)).status == JobStatus.failed
    # Deleting a message that is no note (the bot's reply itself, say) keeps every transcript.
    reply_of_kept = (await store.get_job(kept.idempotency_key)).reply_ref
    assert await core.message_deleted(Platform.console, "w", "c", reply_of_kept.message_id) == 0
    assert await store.get_transcript(kept.idempotency_key) is not None


async def test_a_note_deleted_while_transcribing_stops_and_leaves_nothing(settings, store):
    platform = RecordingPlatform()
    note = platform.note(b"a")
    t = ScriptedTranscriber(SEGMENTS, delay=0.5)
    core = Voxnote(settings, store, t)
    await core.start()
    await core.submit(note, platform)
    for _ in range(100):
        if t.requests:
            break
        await asyncio.sleep(0.02)
    await core.message_deleted(Platform.console, "w", "c", note.message_id)
    await core.wait_idle(timeout=5)
    await core.stop()
    job = await store.get_job(note.idempotency_key)
    assert job.status == JobStatus.failed and job.error == "the note was deleted"
    assert await store.get_transcript(note.idempotency_key) is None
    assert len(platform.of("delete")) == 1
