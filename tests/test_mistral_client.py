"""MistralTranscriber against the fake Mistral server: wire format, parsing, retries, typed errors."""

from __future__ import annotations

import logging
import socket
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import pytest_asyncio

from bot.config import Settings
from bot.errors import StreamInterrupted, TranscriptionRejected, TranscriptionUnavailable
from bot.engine.mistral import MistralTranscriber, error_message
from bot.models import (
    DoneEvent,
    LanguageEvent,
    Segment,
    SegmentEvent,
    TextDeltaEvent,
    Transcript,
    TranscriptionRequest,
    Usage,
)
from bot.retry import RetryPolicy, RetryState, parse_retry_after
from bot.engine.transcriber import Transcriber
from tests.fixtures.mistral import FakeMistral, transcript_events

AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt fake audio bytes \x00\x01\x02"
FAST = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01, budget_s=5)
DIARIZED = Transcript(
    model="voxtral-mini-2507",
    text="Hi there. Hello!",
    language="en",
    segments=[
        Segment(text="Hi there.", start=0.0, end=1.1, speaker_id="speaker_1"),
        Segment(text="Hello!", start=1.3, end=2.0, speaker_id="speaker_2"),
    ],
    usage=Usage(prompt_audio_seconds=2, prompt_tokens=4, completion_tokens=9, total_tokens=13),
)


@pytest_asyncio.fixture(loop_scope="function")
async def client(fake_mistral: FakeMistral):
    async with MistralTranscriber(fake_mistral.url, "sk-test-secret", "voxtral-mini-latest", retry=FAST) as t:
        yield t


def file_request(**kw) -> TranscriptionRequest:
    return TranscriptionRequest(file=AUDIO, filename="note.ogg", **kw)


def test_implements_the_protocol():
    assert isinstance(MistralTranscriber("http://127.0.0.1:1"), Transcriber)
    assert MistralTranscriber.can_fetch_urls is True


# --- wire format -------------------------------------------------------------------------------------


async def test_file_upload_sends_every_field(client, fake_mistral):
    await client.complete(
        file_request(
            language="fr", temperature=0.2, diarize=True, context_bias=["Voxtral", "Kubernetes", "Jürgen"],
            timestamp_granularities=["segment"],
        )
    )
    [req] = fake_mistral.requests
    assert (req.method, req.path) == ("POST", "/v1/audio/transcriptions")
    assert req.header("content-type").startswith("multipart/form-data")
    assert req.header("authorization") == "Bearer sk-test-secret"
    assert req.fields == [
        ("model", "voxtral-mini-latest"),
        ("language", "fr"),
        ("temperature", "0.2"),
        ("stream", "false"),
        ("diarize", "true"),
        ("context_bias", "Voxtral"),
        ("context_bias", "Kubernetes"),
        ("context_bias", "Jürgen"),
        ("timestamp_granularities", "segment"),
    ]
    assert req.names[-1] == "file"
    assert req.file.filename == "note.ogg"
    assert req.file.data == AUDIO
    assert req.field("file_url") is None and req.field("file_id") is None


async def test_file_url_omits_unset_optionals_and_auth(fake_mistral):
    async with MistralTranscriber(fake_mistral.url, None, "my-model", retry=FAST) as t:
        await t.complete(TranscriptionRequest(file_url="https://cdn.example/a.mp3"))
    [req] = fake_mistral.requests
    assert req.header("content-type").startswith("multipart/form-data")
    assert req.header("authorization") is None
    assert req.file is None
    assert req.fields == [
        ("model", "my-model"),
        ("file_url", "https://cdn.example/a.mp3"),
        ("stream", "false"),
        ("diarize", "false"),
        ("timestamp_granularities", "segment"),
    ]


async def test_upload_then_transcribe_by_file_id(client, fake_mistral):
    file_id = await client.upload_file(AUDIO, "memo.m4a")
    upload = fake_mistral.requests[0]
    assert (upload.path, upload.field("purpose"), upload.file.filename, upload.file.data) == (
        "/v1/files", "audio", "memo.m4a", AUDIO
    )
    await client.complete(TranscriptionRequest(file_id=file_id, model="override-model"))
    req = fake_mistral.requests[1]
    assert req.field("file_id") == file_id
    assert req.field("model") == "override-model"
    assert req.file is None and req.field("file_url") is None
    await client.delete_file(file_id)
    assert file_id not in fake_mistral.files


async def test_phrases_are_sent_as_voxtral_3_takes_them(client, fake_mistral):
    """Voxtral 3 refuses context_bias items with whitespace or commas (400): multi-word phrases go with
    underscores, as Mistral's docs ask, so a channel's "pull request" keeps working."""
    await client.complete(file_request(context_bias=["pull request", "Jean-Luc  Picard", "a, b", "pull_request"]))
    [req] = fake_mistral.requests
    assert req.getall("context_bias") == ["pull_request", "Jean-Luc_Picard", "a_b"]


async def test_same_fields_as_the_official_sdk(fake_mistral):
    """The SDK is the reference for the dialect: both clients must send the same parts in the same order."""
    from mistralai.client import Mistral

    sdk = Mistral(api_key="sk-test-secret", server_url=fake_mistral.url)
    answer = sdk.audio.transcriptions.complete(
        model="voxtral-mini-latest", file={"file_name": "note.ogg", "content": AUDIO}, language="de",
        temperature=0.5, diarize=True, context_bias=["a_b", "c"], timestamp_granularities=["segment"],
        speaker_references={"Ann": "QUJD", "Bo": "REVG"},
    )
    assert answer.text == fake_mistral.transcript.text
    async with MistralTranscriber(fake_mistral.url, "sk-test-secret", retry=FAST) as t:
        await t.complete(file_request(language="de", temperature=0.5, diarize=True, context_bias=["a b", "c"],
                                      speaker_references={"Ann": b"ABC", "Bo": b"DEF"}))
    by_sdk, ours = fake_mistral.requests
    assert ours.fields == by_sdk.fields
    assert ours.names == by_sdk.names
    assert [p.content_type for p in ours.parts] == [p.content_type for p in by_sdk.parts]
    assert (ours.file.filename, ours.file.data) == (by_sdk.file.filename, by_sdk.file.data)
    assert ours.header("authorization") == by_sdk.header("authorization")


def test_the_official_sdk_reads_the_fake_stream(fake_mistral):
    """Keeps the fake honest: its SSE answers parse with the SDK's own event models."""
    from mistralai.client import Mistral

    fake_mistral.transcript = DIARIZED
    sdk = Mistral(api_key="k", server_url=fake_mistral.url)
    with sdk.audio.transcriptions.stream(model="m", file={"file_name": "a.wav", "content": AUDIO}) as events:
        got = list(events)
    assert [e.event for e in got] == [e.type for e in transcript_events(DIARIZED)]
    assert got[-1].data.text == DIARIZED.text
    assert got[-1].data.segments[1].speaker_id == "speaker_2"
    assert fake_mistral.requests[0].stream


def test_from_settings(fake_mistral):
    settings = Settings(
        mistral_base_url=fake_mistral.url + "/v1/", mistral_api_key="sk-from-env", mistral_model="m1",
        connect_timeout_s=1.5, request_timeout_s=7, max_retries=2,
    )
    t = MistralTranscriber.from_settings(settings)
    assert t.base_url == fake_mistral.url
    assert t.model == "m1"
    assert t.retry.max_retries == 2
    assert t._client.timeout == httpx.Timeout(7, connect=1.5)
    assert t._client.headers["authorization"] == "Bearer sk-from-env"
    assert "sk-from-env" not in repr(t)
    keyless = MistralTranscriber.from_settings(Settings(mistral_base_url=fake_mistral.url, mistral_api_key=None))
    assert "authorization" not in keyless._client.headers


# --- answers -------------------------------------------------------------------------------------------


async def test_complete_parses_the_json_answer(client, fake_mistral):
    fake_mistral.reply_json(DIARIZED.model_dump(mode="json") | {"extra_future_field": 1})
    assert await client.complete(file_request(diarize=True)) == DIARIZED


async def test_stream_yields_events_in_order(client, fake_mistral):
    events = transcript_events(DIARIZED)
    fake_mistral.reply_stream(events, event_delay=0.005)
    got = [e async for e in client.stream(file_request(diarize=True))]
    assert got == events
    assert [type(e) for e in got] == [LanguageEvent, TextDeltaEvent, SegmentEvent, TextDeltaEvent, SegmentEvent, DoneEvent]
    [req] = fake_mistral.requests
    assert req.field("stream") == "true"
    assert req.header("accept") == "text/event-stream"


async def test_stream_ignores_unknown_events_and_keepalives(client, fake_mistral):
    events = transcript_events(DIARIZED)
    fake_mistral.reply_stream(
        [": keep-alive\n\n", events[0], {"type": "transcription.future_thing", "x": 1}, *events[1:]]
    )
    assert [e async for e in client.stream(file_request())] == events


async def test_stream_accepts_a_json_answer(client, fake_mistral):
    """Servers that ignore `stream=true` still give the four event kinds."""
    fake_mistral.reply_json(DIARIZED)
    got = [e async for e in client.stream(file_request())]
    assert isinstance(got[0], LanguageEvent) and got[0].audio_language == "en"
    assert [e.text for e in got if isinstance(e, SegmentEvent)] == ["Hi there.", "Hello!"]
    assert isinstance(got[-1], DoneEvent) and got[-1].transcript() == DIARIZED


# --- retries -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_complete_retries_honouring_retry_after(client, fake_mistral, status):
    fake_mistral.reply_error(status, "slow down", retry_after=0, times=2)
    assert (await client.complete(file_request())).text == fake_mistral.transcript.text
    assert len(fake_mistral.requests) == 3


@pytest.mark.parametrize("status", [429, 503])
async def test_stream_retries_before_the_first_event(client, fake_mistral, status):
    fake_mistral.reply_error(status, retry_after="0", times=2)
    got = [e async for e in client.stream(file_request())]
    assert isinstance(got[-1], DoneEvent)
    assert len(fake_mistral.requests) == 3


async def test_retry_after_as_an_http_date(client, fake_mistral):
    past = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=5), usegmt=True)
    fake_mistral.reply_error(503, retry_after=past)
    await client.complete(file_request())
    assert len(fake_mistral.requests) == 2


async def test_a_retry_after_longer_than_the_client_sleeps_goes_to_the_job_queue(fake_mistral):
    """Never resend before the server allows: a wait past `max_retry_after_s` is the job queue's to
    schedule (the error carries it), not a shorter sleep and an early retry."""
    fake_mistral.reply_error(429, retry_after=3600)
    policy = RetryPolicy(max_retries=2, base_delay_s=0.001, max_retry_after_s=0.01, budget_s=1)
    async with MistralTranscriber(fake_mistral.url, retry=policy) as t:
        with pytest.raises(TranscriptionUnavailable) as err:
            await t.complete(file_request())
    assert err.value.retry_after == 3600
    assert len(fake_mistral.requests) == 1


async def test_retry_after_beyond_the_budget_gives_up_at_once(fake_mistral):
    fake_mistral.reply_error(503, "maintenance", retry_after=30)
    policy = RetryPolicy(max_retries=4, base_delay_s=0.001, max_retry_after_s=60, budget_s=1)
    async with MistralTranscriber(fake_mistral.url, retry=policy) as t:
        with pytest.raises(TranscriptionUnavailable) as err:
            await t.complete(file_request())
    assert (err.value.status, err.value.retry_after) == (503, 30)
    assert "maintenance" in str(err.value)
    assert len(fake_mistral.requests) == 1


async def test_5xx_after_max_retries_is_unavailable(client, fake_mistral):
    fake_mistral.reply_error(502, "bad gateway", retry_after=0, times=10)
    with pytest.raises(TranscriptionUnavailable) as err:
        await client.complete(file_request())
    assert not isinstance(err.value, StreamInterrupted)
    assert err.value.status == 502 and "bad gateway" in err.value.body
    assert len(fake_mistral.requests) == FAST.max_retries + 1


async def test_dropped_connection_is_retried(client, fake_mistral):
    fake_mistral.reply_disconnect()
    assert (await client.complete(file_request())).text
    assert len(fake_mistral.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"object": "error", "message": "Invalid file format", "type": "invalid_request_error"}, "Invalid file format"),
        (422, {"detail": [{"loc": ["body", "model"], "msg": "Field required", "type": "missing"}]}, "body.model: Field required"),
        (404, {"error": {"message": "no such model", "type": "not_found"}}, "no such model"),
    ],
)
async def test_4xx_is_rejected_without_retry(client, fake_mistral, status, body, message):
    fake_mistral.reply_error(status, body=body, times=5)
    with pytest.raises(TranscriptionRejected) as err:
        await client.complete(file_request())
    assert err.value.status == status
    assert message in str(err.value)
    assert len(fake_mistral.requests) == 1


async def test_4xx_on_stream_is_rejected_without_retry(client, fake_mistral):
    fake_mistral.reply_error(422, "diarize is not supported with this model", times=5)
    with pytest.raises(TranscriptionRejected, match="diarize is not supported"):
        [e async for e in client.stream(file_request(diarize=True))]
    assert len(fake_mistral.requests) == 1


async def test_bad_key_is_rejected(fake_mistral):
    fake_mistral.api_key = "the-right-key"
    async with MistralTranscriber(fake_mistral.url, "a-wrong-key", retry=FAST) as t:
        with pytest.raises(TranscriptionRejected) as err:
            await t.complete(file_request())
    assert err.value.status == 401 and "a-wrong-key" not in str(err.value)


async def test_timeout_is_unavailable(fake_mistral):
    fake_mistral.reply_transcript(delay=5, times=2)
    policy = RetryPolicy(max_retries=1, base_delay_s=0.001)
    async with MistralTranscriber(fake_mistral.url, request_timeout_s=0.2, retry=policy) as t:
        with pytest.raises(TranscriptionUnavailable, match="timed out"):
            await t.complete(file_request())
    assert len(fake_mistral.requests) == 2


async def test_connection_refused_is_unavailable_after_retries(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    caplog.set_level(logging.WARNING, logger="bot.engine.mistral")
    async with MistralTranscriber(f"http://127.0.0.1:{port}", "sk-never-logged", retry=FAST) as t:
        with pytest.raises(TranscriptionUnavailable, match="could not be reached") as err:
            await t.complete(file_request())
    assert err.value.status is None
    assert "gave up after 4 attempts" in str(err.value)
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == FAST.max_retries


# --- streams cut short ---------------------------------------------------------------------------------


async def test_stream_cut_in_the_middle_is_interrupted(client, fake_mistral):
    events = transcript_events(DIARIZED)
    fake_mistral.reply_stream(events, cut_after=3, times=3)
    got = []
    with pytest.raises(StreamInterrupted):
        async for event in client.stream(file_request()):
            got.append(event)
    assert got == events[:3]
    assert len(fake_mistral.requests) == 1  # events were shown: a retry would repeat them


async def test_stream_ending_without_done_is_interrupted(client, fake_mistral):
    events = transcript_events(DIARIZED)
    fake_mistral.reply_stream(events[:-1])
    with pytest.raises(StreamInterrupted, match="without transcription.done"):
        [e async for e in client.stream(file_request())]


async def test_stream_cut_before_any_event_is_retried(client, fake_mistral):
    fake_mistral.reply_stream(transcript_events(DIARIZED), cut_after=0)
    fake_mistral.reply_disconnect()
    got = [e async for e in client.stream(file_request())]
    assert isinstance(got[-1], DoneEvent)
    assert len(fake_mistral.requests) == 3


async def test_stream_error_event_is_interrupted(client, fake_mistral):
    events = transcript_events(DIARIZED)
    fake_mistral.reply_stream([events[0], {"type": "error", "error": {"message": "GPU fell over"}}])
    with pytest.raises(StreamInterrupted, match="GPU fell over"):
        [e async for e in client.stream(file_request())]


async def test_the_key_never_reaches_logs_or_errors(fake_mistral, caplog):
    caplog.set_level(logging.DEBUG)
    fake_mistral.reply_error(503, retry_after=0, times=2)
    fake_mistral.reply_error(400, "bad audio")
    async with MistralTranscriber(fake_mistral.url, "sk-very-secret-key", retry=FAST) as t:
        with pytest.raises(TranscriptionRejected) as err:
            await t.complete(file_request())
        assert "sk-very-secret-key" not in repr(t)
    assert fake_mistral.requests[0].header("authorization") == "Bearer sk-very-secret-key"
    assert "sk-very-secret-key" not in caplog.text
    assert "sk-very-secret-key" not in str(err.value) + repr(err.value) + (err.value.body or "")


# --- backoff arithmetic --------------------------------------------------------------------------------


def test_parse_retry_after():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"})) == 7
    assert parse_retry_after(httpx.Headers({"Retry-After": "1.5"})) == 1.5
    assert parse_retry_after(httpx.Headers({"Retry-After": "Wed, 01 Jan 2025 12:00:30 GMT"}), now) == 30
    assert parse_retry_after(httpx.Headers({"Retry-After": "Wed, 01 Jan 2025 11:00:00 GMT"}), now) == 0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "Retry-After": "9"})) == 0.25
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers()) is None


def test_backoff_grows_with_jitter_and_respects_limits():
    policy = RetryPolicy(max_retries=10, base_delay_s=1, max_delay_s=4, max_retry_after_s=10, budget_s=1000)
    for retry, ceiling in [(0, 1), (1, 2), (2, 4), (5, 4)]:
        assert all(ceiling / 2 <= policy.delay(retry) <= ceiling for _ in range(50))
    assert policy.delay(0, retry_after=3) == 3
    # The server's word is never shortened; a wait past max_retry_after_s ends the call instead.
    assert RetryState(policy).next_delay(retry_after=10) == 10
    assert RetryState(policy).next_delay(retry_after=99) is None
    state = RetryState(RetryPolicy(max_retries=2, base_delay_s=0.1, budget_s=100))
    assert state.next_delay() is not None and state.next_delay() is not None
    assert state.next_delay() is None and state.attempts == 3


def test_error_message_shapes():
    assert error_message('{"object":"error","message":"Bad model"}') == "Bad model"
    assert error_message('{"detail":"Not Found"}') == "Not Found"
    assert error_message("<html>502 Bad Gateway</html>") == "<html>502 Bad Gateway</html>"
    assert error_message("") == "(empty body)"
