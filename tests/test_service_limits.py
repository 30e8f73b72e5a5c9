"""Admission control under load: a transcript or a 429 with Retry-After for everyone, freed slots when
clients leave, and no memory growth across rounds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.models import Segment, TranscriptionEvent, TranscriptionRequest
from tests.fixtures.service import service_settings
from tests.fixtures.transcriber import ScriptedTranscriber

SEGMENTS = [Segment(text="one", start=0.0, end=1.0), Segment(text="two", start=1.0, end=2.0)]


class GatedTranscriber(ScriptedTranscriber):
    """A scripted engine whose calls wait for `gate`; counts calls begun and ended (closed or finished)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.begun = 0
        self.ended = 0

    async def stream(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptionEvent]:
        self.begun += 1
        try:
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
            async for event in super().stream(request):
                yield event
        finally:
            self.ended += 1


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def health(svc) -> dict:
    return httpx.get(f"{svc.url}/health").json()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def transcribe(client: httpx.AsyncClient, payload: bytes, stream: bool = False) -> httpx.Response:
    data = {"model": "scripted", "stream": "true" if stream else "false"}
    return await client.post("/v1/audio/transcriptions", data=data, files={"file": ("a.ogg", payload)})


def assert_answered(response: httpx.Response) -> bool:
    """True for a transcript, False for a well-formed 429; anything else fails."""
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["code"] == "queue_full"
        return False
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        assert "event: transcription.done" in response.text
    else:
        assert response.json()["text"] == "one two"
    return True


@pytest.fixture
def gated(service_factory, tmp_path):
    engine = GatedTranscriber(SEGMENTS, delay=0.01)
    svc = service_factory(service_settings(tmp_path, max_concurrent=2, max_queue=3), engine)
    return svc, engine


async def test_twenty_at_once_get_a_transcript_or_429(gated):
    svc, engine = gated
    async with httpx.AsyncClient(base_url=svc.url, timeout=30, limits=httpx.Limits(max_connections=40)) as client:
        tasks = [asyncio.create_task(transcribe(client, b"x" * 1000, stream=i % 2 == 0)) for i in range(20)]
        # Held at the gate: 2 run and 3 wait, so exactly 15 are refused, whatever the timing.
        await asyncio.to_thread(wait_until, lambda: sum(t.done() for t in tasks) == 15)
        await asyncio.to_thread(wait_until, lambda: health(svc) == {"status": "ok", "running": 2, "waiting": 3})
        engine.gate.set()
        responses = await asyncio.gather(*tasks)
    served = [assert_answered(r) for r in responses]
    assert served.count(True) == 5 and served.count(False) == 15
    wait_until(lambda: health(svc) == {"status": "ok", "running": 0, "waiting": 0})


async def test_memory_stays_flat_across_rounds(service_factory, tmp_path):
    engine = ScriptedTranscriber(SEGMENTS, delay=0.005)
    svc = service_factory(service_settings(tmp_path, max_concurrent=2, max_queue=4), engine)
    payload = b"\x01" * 150_000
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=svc.url, timeout=30, limits=httpx.Limits(max_connections=40)) as client:
        for _ in range(6):
            responses = await asyncio.gather(*(transcribe(client, payload, stream=i % 3 == 0) for i in range(20)))
            assert sum(assert_answered(r) for r in responses) >= 1
            engine.requests.clear()  # the scripted engine keeps every request: not the service's memory
            samples.append(rss_mb())
    # About 17 MB of uploads go through per round; a leak of the bodies would add that much each time.
    assert samples[-1] - samples[1] < 25, samples


def test_client_leaving_a_stream_frees_its_slot(service_factory, tmp_path):
    engine = GatedTranscriber([Segment(text=f"s{i}", start=i, end=i + 1) for i in range(200)], delay=0.05)
    engine.gate.set()
    svc = service_factory(service_settings(tmp_path, max_concurrent=1, max_queue=0), engine)
    with httpx.Client(base_url=svc.url, timeout=30) as client:
        with client.stream("POST", "/v1/audio/transcriptions", data={"model": "scripted", "stream": "true"},
                           files={"file": ("a.ogg", b"x")}) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("event: ")
            assert health(svc)["running"] == 1
            busy = httpx.post(f"{svc.url}/v1/audio/transcriptions", data={"model": "scripted"},
                              files={"file": ("a.ogg", b"x")})
            assert busy.status_code == 429
        # Leaving the `with` closed the connection mid-stream.
    wait_until(lambda: health(svc)["running"] == 0 and engine.ended == 1)
    engine.segments = SEGMENTS
    after = httpx.post(f"{svc.url}/v1/audio/transcriptions", data={"model": "scripted"}, files={"file": ("a", b"x")})
    assert after.status_code == 200


def test_clients_leaving_running_and_queued_requests_free_their_places(gated):
    svc, engine = gated
    settings = {"data": {"model": "scripted"}, "files": {"file": ("a.ogg", b"x")}}

    def doomed() -> None:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{svc.url}/v1/audio/transcriptions", timeout=httpx.Timeout(30, read=0.5), **settings)

    threads = [threading.Thread(target=doomed) for _ in range(5)]
    for thread in threads:
        thread.start()
    wait_until(lambda: health(svc)["running"] == 2 and health(svc)["waiting"] == 3)
    for thread in threads:
        thread.join()
    # Every client gave up: the two running calls were stopped and the three queued ones left the line.
    wait_until(lambda: health(svc) == {"status": "ok", "running": 0, "waiting": 0})
    # (A queued request may have reached a freed slot just before its own client left: it was stopped too.)
    wait_until(lambda: engine.ended == engine.begun >= 2)
    engine.gate.set()
    assert httpx.post(f"{svc.url}/v1/audio/transcriptions", **settings).json()["text"] == "one two"
