"""Several transcription services behind the bot (`VOXNOTE_MISTRAL_BASE_URL=a,b`): notes spread over them,
a dead or failing one is skipped at once and looked at again later, a note it refused is not resent."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bot.config import Settings
from bot.engine.factory import make_transcriber
from bot.engine.mistral import MistralTranscriber
from bot.engine.pool import EnginePool, base_urls
from bot.errors import StreamInterrupted, TranscriptionRejected, TranscriptionUnavailable
from bot.models import TextDeltaEvent, TranscriptionRequest
from bot.retry import RetryPolicy
from tests.fixtures.mistral import FakeMistral

NO_RETRY = RetryPolicy(max_retries=0)


def dead_url() -> str:
    """A port nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def note() -> TranscriptionRequest:
    return TranscriptionRequest(file=b"OggS", filename="a.ogg")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_fakes():
    with FakeMistral() as a, FakeMistral() as b:
        yield a, b


def pool_of(*urls: str, clock: Clock | None = None) -> EnginePool:
    return EnginePool([MistralTranscriber(u, retry=NO_RETRY) for u in urls], clock=clock or Clock())


def test_settings_with_several_urls_make_a_pool():
    settings = Settings(_env_file=None, transcriber="mistral", mistral_base_url="http://a:8000, http://b:8000/")
    assert base_urls(settings.mistral_base_url) == ["http://a:8000", "http://b:8000"]
    pool = make_transcriber(settings)
    assert isinstance(pool, EnginePool) and [m.url for m in pool.members] == ["http://a:8000", "http://b:8000"]
    single = make_transcriber(Settings(_env_file=None, transcriber="mistral", mistral_base_url="http://a:8000"))
    assert isinstance(single, MistralTranscriber)


async def test_notes_spread_over_the_engines(two_fakes):
    a, b = two_fakes
    a.reply_transcript(delay=0.3, times=10)
    b.reply_transcript(delay=0.3, times=10)
    pool = pool_of(a.url, b.url)
    await asyncio.gather(*(pool.complete(note()) for _ in range(6)))
    assert len(a.transcription_requests) == 3 and len(b.transcription_requests) == 3
    await pool.aclose()


async def test_a_dead_engine_is_skipped_at_once_and_probed_again_later(two_fakes):
    a, _ = two_fakes
    clock = Clock()
    dead = dead_url()
    pool = pool_of(dead, a.url, clock=clock)
    for _ in range(4):
        events = [e async for e in pool.stream(note())]
        assert events[-1].type == "transcription.done"
    assert len(a.transcription_requests) == 4
    assert pool.members[0].failures == 1  # tried once, then left alone
    clock.now += 60  # its time out is over: probed (still dead), so it stays out
    await pool.complete(note())
    assert pool.members[0].failures == 1 and len(a.transcription_requests) == 5
    await pool.aclose()


async def test_an_engine_that_comes_back_gets_notes_again(two_fakes):
    a, b = two_fakes
    clock = Clock()
    pool = pool_of(a.url, b.url, clock=clock)
    a.reply_error(503, "overloaded")
    await pool.complete(note())  # a fails, b answers
    assert pool.members[0].down_until > clock.now and len(b.transcription_requests) == 1
    await asyncio.gather(*(pool.complete(note()) for _ in range(3)))
    assert len(a.transcription_requests) == 1  # set aside
    clock.now += 60
    await asyncio.gather(*(pool.complete(note()) for _ in range(4)))
    assert len(a.transcription_requests) >= 2  # back in the pool after its /health answered
    await pool.aclose()


async def test_a_refused_note_is_not_resent_and_a_cut_stream_is_not_restarted(two_fakes):
    a, b = two_fakes
    pool = pool_of(a.url, b.url)
    a.reply_error(400, "bad audio")
    with pytest.raises(TranscriptionRejected):
        await pool.complete(note())
    assert not b.transcription_requests  # the note, not the engine, was the problem

    a.reply_stream([TextDeltaEvent(text="Hello")], cut_after=1)
    pool = pool_of(a.url, b.url)
    with pytest.raises(StreamInterrupted):
        async for _ in pool.stream(note()):
            pass
    assert not b.transcription_requests  # text was shown: the job's retry runs it again, not the pool
    await pool.aclose()


async def test_all_engines_down_is_unavailable_for_the_job_to_retry():
    pool = pool_of(dead_url(), dead_url())
    with pytest.raises(TranscriptionUnavailable):
        await pool.complete(note())
    await pool.aclose()


async def test_the_bot_transcribes_through_a_pool_with_a_dead_engine(slack_harness, fake_slack, fake_mistral):
    settings = {"mistral_base_url": f"{dead_url()},{fake_mistral.url}", "mistral_api_key": "k"}
    pool = make_transcriber(Settings(_env_file=None, transcriber="mistral", **settings))
    assert isinstance(pool, EnginePool)
    h = await slack_harness(pool, **settings)
    for i in range(3):
        msg = fake_slack.user_message("C0GENERAL", [fake_slack.add_file(b"OggS", name=f"n{i}.ogg")])
        await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: len(fake_slack.bot_messages("C0GENERAL")) == 3)
    await h.core.wait_idle(timeout=30)
    texts = [m["text"] for m in fake_slack.bot_messages("C0GENERAL")]
    assert all(fake_mistral.transcript.text in t for t in texts), texts
