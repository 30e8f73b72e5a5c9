"""100 notes through the real core and the real Mistral client against a transcription server that
fails 30 % of calls in varied ways: every note ends with its transcript or one plain message."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from bot.config import Settings
from bot.core import Voxnote
from bot.engine.mistral import MistralTranscriber
from bot.models import LanguageEvent, Segment, SegmentEvent, TextDeltaEvent, Transcript, Usage
from bot.retry import RetryPolicy
from storage import JobStatus, SQLiteStore
from tests.fixtures.mistral import FakeMistral, RecordedRequest, Reply
from tests.fixtures.platform import RecordingPlatform

NOTES = 100


def expected_text(name: str) -> str:
    return f"Note {name} says hello. And goodbye."


class FlakyService:
    """Answers like a real service 70 % of the time; otherwise one of several ways of failing."""

    FAULTS = ["503", "500", "429", "disconnect", "cut", "slow", "400"]

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()

    def __call__(self, request: RecordedRequest) -> Reply:
        name = next(p for p in request.parts if p.name == "file").data.decode()
        with self.lock:
            fault = self.rng.choice(self.FAULTS) if self.rng.random() < 0.3 else "ok"
            self.seen[fault] += 1
        segments = [Segment(text=f"Note {name} says hello.", start=0, end=1), Segment(text="And goodbye.", start=1, end=2)]
        transcript = Transcript(model="fake", text=expected_text(name), language="en", segments=segments,
                                usage=Usage(prompt_audio_seconds=2))
        if fault == "ok":
            return Reply(transcript=transcript, event_delay=0.01)
        if fault in ("503", "500"):
            return Reply(status=int(fault), json={"object": "error", "message": "overloaded", "type": "server_error"})
        if fault == "429":
            return Reply(status=429, json={"object": "error", "message": "slow down"}, headers={"Retry-After": "0.05"})
        if fault == "disconnect":
            return Reply(disconnect=True)
        if fault == "cut":
            events = [LanguageEvent(audio_language="en"), TextDeltaEvent(text=segments[0].text),
                      SegmentEvent(text=segments[0].text, start=0, end=1)]
            return Reply(events=events, cut_after=2, event_delay=0.01)
        if fault == "slow":
            return Reply(transcript=transcript, delay=2.0)  # past the client's 0.5 s read timeout
        return Reply(status=400, json={"object": "error", "message": "invalid audio", "type": "invalid_request"})


@pytest.mark.slow
async def test_hundred_notes_against_a_flaky_service(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.02)
    service = FlakyService()
    settings = Settings(db_path=tmp_path / "v.db", jobs_concurrency=4, jobs_per_workspace=4, max_attempts=4,
                        _env_file=None)
    store = await SQLiteStore.open(settings.db_path)
    platform = RecordingPlatform(min_edit_interval=0.01)
    with FakeMistral() as fake:
        fake.responder = service
        transcriber = MistralTranscriber(
            fake.url, request_timeout_s=0.5, connect_timeout_s=0.5,
            retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.1, budget_s=1),
        )
        core = Voxnote(settings, store, transcriber)
        await core.start()
        notes = [platform.note(f"n{i}".encode(), f"m{i}") for i in range(NOTES)]
        for note in notes:
            assert await core.submit(note, platform)
        await core.wait_idle(timeout=300)
        await core.stop()
        await transcriber.aclose()

    replies = {c.ref.thread_id: c.ref.message_id for c in platform.of("post_reply")}
    assert len(replies) == NOTES == len(platform.of("post_reply"))  # one reply per note
    outcomes: Counter[str] = Counter()
    for i, note in enumerate(notes):
        final = platform.texts(replies[note.message_id])[-1]
        job = await store.get_job(note.idempotency_key)
        if final == expected_text(f"n{i}"):
            assert job.status == JobStatus.done
            outcomes["transcribed"] += 1
        else:
            assert final.startswith(":warning: Couldn't transcribe this note:"), final
            assert "Traceback" not in final and job.status == JobStatus.failed
            outcomes["reported"] += 1
    await store.close()
    assert sum(service.seen[f] for f in FlakyService.FAULTS) >= 0.2 * sum(service.seen.values())
    assert {"503", "429", "disconnect", "cut", "slow", "400"} <= set(service.seen)
    assert outcomes["transcribed"] >= 85, (outcomes, service.seen)
    print(dict(outcomes), dict(service.seen))
