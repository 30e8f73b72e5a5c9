"""/healthz and /metrics over a real socket, and the retention purge run by the core."""

import asyncio
import socket
import time

import httpx
from bot.config import Settings
from bot.core import Voxnote
from bot.metrics import start_health_server
from bot.models import AudioNote, Platform, Segment, Transcript
from storage import SQLiteStore
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.transcriber import ScriptedTranscriber


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_health_and_metrics(tmp_path):
    store = await SQLiteStore.open(tmp_path / "v.db")
    settings = Settings(db_path=tmp_path / "v.db", _env_file=None)
    platform = RecordingPlatform()
    core = Voxnote(settings, store, ScriptedTranscriber([Segment(text="hi", start=0, end=1)], delay=0))
    port = free_port()
    runner = await start_health_server(store, "127.0.0.1", port)
    try:
        await core.start()
        await core.submit(platform.note(b"a"), platform)
        await core.wait_idle()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = (await http.get("/healthz")).json()
            assert health["status"] == "ok" and health["jobs"]["done"] == 1
            metrics = (await http.get("/metrics")).text
        assert 'voxnote_jobs{status="done"} 1.0' in metrics
        assert "voxnote_job_seconds_count" in metrics and "voxnote_first_text_seconds_bucket" in metrics
    finally:
        await core.stop()
        await runner.cleanup()
        await store.close()


async def test_retention_purge_runs_at_start(tmp_path):
    store = await SQLiteStore.open(tmp_path / "v.db")
    note = AudioNote(platform=Platform.slack, channel_id="c", message_id="m", filename="a.ogg")
    await store.save_transcript(note, Transcript(text="old"))
    await store._db.execute("UPDATE transcripts SET created_at=?", (time.time() - 31 * 86400,))
    fresh = note.model_copy(update={"message_id": "m2"})
    await store.save_transcript(fresh, Transcript(text="new"))
    core = Voxnote(Settings(retention_days=30, _env_file=None), store, ScriptedTranscriber([]))
    await core.start()
    for _ in range(100):
        if await store.get_transcript(note.idempotency_key) is None:
            break
        await asyncio.sleep(0.02)
    await core.stop()
    assert await store.get_transcript(note.idempotency_key) is None
    assert (await store.get_transcript(fresh.idempotency_key)).text == "new"
    await store.close()
