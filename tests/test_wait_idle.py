"""`Voxnote.wait_idle`, which tests and benchmarks rely on, waits for a quick retry too: between a failure
and its retry the job is queued for later, not done, and stopping then would requeue it unfinished."""

from __future__ import annotations

from bot.config import Settings
from bot.core import Voxnote
from bot.errors import TranscriptionUnavailable
from bot.models import Segment
from storage import JobStatus, SQLiteStore
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.transcriber import ScriptedTranscriber


class FailsOnce(ScriptedTranscriber):
    def __init__(self) -> None:
        super().__init__([Segment(text="Back again.", start=0, end=1)], delay=0)
        self.calls = 0

    async def stream(self, request):  # noqa: ANN001 - the Transcriber protocol's signature
        self.calls += 1
        if self.calls == 1:
            raise TranscriptionUnavailable("down for a moment")
        async for event in super().stream(request):
            yield event


async def test_wait_idle_waits_for_a_quick_retry(tmp_path, monkeypatch):
    # Long enough that the first look after the failure finds the job queued but not due yet.
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.4)
    settings = Settings(db_path=tmp_path / "v.db", max_attempts=3, _env_file=None)
    store = await SQLiteStore.open(settings.db_path)
    platform = RecordingPlatform()
    note = platform.note(b"a")
    core = Voxnote(settings, store, FailsOnce())
    await core.start()
    await core.submit(note, platform)
    await core.wait_idle(timeout=10)
    try:
        assert (await store.get_job(note.idempotency_key)).status == JobStatus.done
        assert platform.calls[-1].text == "Back again."
    finally:
        await core.stop()
        await store.close()
