"""The official `mistralai` and `openai` SDKs, and voxnote's own client, against `voxnote serve` running the
real engine on real speech. One server and the session's one model for the whole module."""

from __future__ import annotations

import json

import pytest
from mistralai.client import Mistral
from openai import OpenAI

from bot.engine.mistral import MistralTranscriber
from bot.models import Segment, TranscriptionRequest
from tests.fixtures.engine import load_speech_clip, word_error_rate
from tests.fixtures.service import run_service, service_settings

pytestmark = pytest.mark.slow
KEY = "test-key"
# The service must carry the engine's words, not judge them: one misheard name in a 9-word clip is 0.22.
MAX_WER = 0.35


@pytest.fixture(scope="module")
def engine_service(local_engine, tmp_path_factory):
    settings = service_settings(tmp_path_factory.mktemp("serve"), api_keys=KEY, max_concurrent=1)
    svc = run_service(settings, local_engine)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def mistral(engine_service):
    with Mistral(api_key=KEY, server_url=engine_service.url) as client:
        yield client


@pytest.fixture(scope="module")
def short_clip():
    return load_speech_clip("arctic_a0009")


def test_mistral_sdk_complete_with_upload(mistral):
    audio, reference = load_speech_clip("arctic_a0007")
    result = mistral.audio.transcriptions.complete(
        model="voxtral-mini-latest",
        file={"file_name": "a0007.ogg", "content": audio},
        language="en",
        context_bias=["superlative degree"],
        temperature=0.0,
    )
    assert word_error_rate(reference, result.text) < MAX_WER, result.text
    assert result.language == "en" and result.usage.prompt_audio_seconds in (4, 5)  # a 4.0 s clip
    assert result.segments and result.segments[0].start is not None


def test_mistral_sdk_stream(mistral):
    audio, reference = load_speech_clip("allison_tt_allbusy")
    stream = mistral.audio.transcriptions.stream(
        model="voxtral-mini-latest", file={"file_name": "busy.ogg", "content": audio}, language="en"
    )
    events = [(event.event, event.data) for event in stream]
    names = [name for name, _ in events]
    assert names[0] == "transcription.language" and events[0][1].audio_language == "en"
    assert names[-1] == "transcription.done"
    # Text arrives in pieces before the end, each with its finished segment.
    assert names.count("transcription.text.delta") >= 2 and names.count("transcription.segment") >= 2
    deltas = "".join(data.text for name, data in events if name == "transcription.text.delta")
    done = events[-1][1]
    assert deltas.strip() == done.text
    assert word_error_rate(reference, done.text) < MAX_WER, done.text


def test_mistral_sdk_files_upload_then_file_id(mistral, short_clip):
    audio, reference = short_clip
    uploaded = mistral.files.upload(file={"file_name": "a0009.ogg", "content": audio}, purpose="audio")
    assert uploaded.size_bytes == len(audio) and uploaded.filename == "a0009.ogg"
    assert mistral.files.retrieve(file_id=uploaded.id).id == uploaded.id
    assert uploaded.id in [f.id for f in mistral.files.list().data]
    result = mistral.audio.transcriptions.complete(model="voxtral-mini-latest", file_id=uploaded.id, language="en")
    assert word_error_rate(reference, result.text) < MAX_WER, result.text
    assert mistral.files.delete(file_id=uploaded.id).deleted


def test_mistral_sdk_file_url(mistral, media_server, short_clip):
    audio, reference = short_clip
    media_server.files["/clips/a0009.ogg"] = audio
    result = mistral.audio.transcriptions.complete(
        model="voxtral-mini-latest", file_url=media_server.url("/clips/a0009.ogg"), language="en"
    )
    assert word_error_rate(reference, result.text) < MAX_WER, result.text


def test_openai_sdk_response_formats(engine_service, short_clip):
    audio, reference = short_clip
    client = OpenAI(api_key=KEY, base_url=f"{engine_service.url}/v1", max_retries=0)
    verbose = client.audio.transcriptions.create(
        model="whisper-1", file=("a0009.ogg", audio), response_format="verbose_json", language="en"
    )
    assert word_error_rate(reference, verbose.text) < MAX_WER, verbose.text
    assert verbose.duration == pytest.approx(3.1, abs=0.2) and verbose.segments
    events = list(
        client.audio.transcriptions.create(
            model="whisper-1", file=("a0009.ogg", audio), response_format="json", stream=True, language="en"
        )
    )
    assert events[0].type == "transcript.text.delta" and events[-1].type == "transcript.text.done"
    assert word_error_rate(reference, events[-1].text) < MAX_WER
    assert [m.id for m in client.models.list().data] == ["whisper-base"]


async def test_voxnote_client_matches_the_engine_in_process(engine_service, local_engine, short_clip):
    audio, _ = short_clip
    # A JSON answer is the whole-note final, as the engine gives it to a consumer that reads the done event.
    request = TranscriptionRequest(file=audio, filename="a0009.ogg", language="en", final_from_done=True)
    local = await local_engine.complete(request)
    async with MistralTranscriber(engine_service.url, api_key=KEY) as remote:
        over_http = await remote.complete(request)
    assert over_http.text == local.text and over_http.segments == local.segments
    assert over_http.language == local.language == "en"


async def test_diarize_is_wired_to_the_engine_speaker_model(engine_service, local_engine, short_clip):
    """The service passes `diarize` to the engine; its speaker model labels the segments (a stand-in here)."""

    def two_speakers(samples, segments: list[Segment]) -> list[Segment]:
        return [s.model_copy(update={"speaker_id": f"speaker_{i % 2 + 1}"}) for i, s in enumerate(segments)]

    audio, _ = short_clip
    saved = local_engine.diarizer
    local_engine.diarizer = two_speakers
    try:
        async with MistralTranscriber(engine_service.url, api_key=KEY) as remote:
            events = [e async for e in remote.stream(TranscriptionRequest(file=audio, diarize=True, language="en"))]
    finally:
        local_engine.diarizer = saved
    segments = [e for e in events if e.type == "transcription.segment"]
    assert segments and segments[0].speaker_id == "speaker_1"
    assert events[-1].segments[0].speaker_id == "speaker_1"
    models = json.loads(json.dumps(engine_service.app.state.service.catalog.card()))
    # Restored: the card says what the engine really has (the session's engine may have loaded its
    # speaker model for an earlier test).
    assert models["audio_transcription_capabilities"]["diarization"] is (saved is not None)
