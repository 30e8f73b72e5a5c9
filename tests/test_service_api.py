"""The service's HTTP surface with a scripted engine: models, auth, files, request errors, dialects."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from bot.errors import TranscriptionError
from bot.models import Segment
from tests.fixtures.service import service_settings
from tests.fixtures.transcriber import ScriptedTranscriber

SEGMENTS = [Segment(text="Hello there.", start=0.0, end=1.2), Segment(text="General Kenobi.", start=1.4, end=2.6)]
AUDIO = ("note.ogg", b"OggS fake but the scripted engine does not care")


@pytest.fixture
def svc(service_factory, scripted_transcriber, tmp_path):
    settings = service_settings(tmp_path, max_audio_bytes=200_000)
    return service_factory(settings, scripted_transcriber(SEGMENTS, delay=0))


def post(svc, data=None, files=None, **kwargs) -> httpx.Response:
    data = {"model": "voxtral-mini-latest", **(data or {})}
    return httpx.post(f"{svc.url}/v1/audio/transcriptions", data=data, files=files, timeout=20, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str | None = None, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["object"] == "error" and body["message"] and body["type"]
    if code is not None:
        assert body["code"] == code, body
    if param is not None:
        assert body["param"] == param, body
    return body


def test_models_list_and_unknown_model(svc):
    listing = httpx.get(f"{svc.url}/v1/models").json()
    assert [m["id"] for m in listing["data"]] == ["scripted"]
    card = listing["data"][0]
    assert card["capabilities"]["audio_transcription"] and "voxtral-mini-latest" in card["aliases"]
    assert httpx.get(f"{svc.url}/v1/models/scripted").json()["id"] == "scripted"
    assert_error(httpx.get(f"{svc.url}/v1/models/gpt-9"), 404, "model_not_found")
    assert_error(post(svc, {"model": "gpt-9"}, files={"file": AUDIO}), 400, "model_not_found", "model")
    assert post(svc, {"model": "scripted"}, files={"file": AUDIO}).status_code == 200


def test_mistral_answer_shape(svc):
    body = post(svc, {"language": "EN", "context_bias": ["Kenobi", "kenobi", "Obi-Wan"]}, files={"file": AUDIO}).json()
    assert body["text"] == "Hello there. General Kenobi."
    assert body["model"] == "scripted" and body["language"] == "en"
    assert body["usage"]["prompt_audio_seconds"] == 3
    assert [s["type"] for s in body["segments"]] == ["transcription_segment"] * 2
    assert "speaker_id" not in body["segments"][0]


def test_form_fields_reach_the_engine(svc):
    engine = svc.app.state.service.transcriber
    files = [("file", AUDIO), ("context_bias", (None, b"Kubernetes")), ("context_bias", (None, b"pull request")),
             ("timestamp_granularities[]", (None, b"segment")), ("temperature", (None, b"0.2")),
             ("diarize", (None, b"true")), ("language", (None, b"fr"))]
    response = httpx.post(f"{svc.url}/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files)
    assert response.status_code == 200, response.text
    request = engine.requests[-1]
    assert request.context_bias == ["Kubernetes", "pull request"]
    assert request.temperature == 0.2 and request.diarize and request.language == "fr"
    assert request.file == AUDIO[1] and request.filename == "note.ogg"


@pytest.mark.parametrize(
    ("data", "status", "code", "param"),
    [
        ({"language": "xx"}, 422, "invalid_value", "language"),
        ({"temperature": "hot"}, 422, "invalid_value", "temperature"),
        ({"temperature": "7"}, 422, "invalid_value", "temperature"),
        ({"timestamp_granularities": "word-ish"}, 422, "invalid_value", "timestamp_granularities"),
        ({"response_format": "pdf"}, 422, "invalid_value", "response_format"),
        ({"context_bias": "x" * 101}, 422, "invalid_value", "context_bias"),
        ({"model": ""}, 422, "invalid_value", "model"),
    ],
)
def test_bad_fields_name_the_field(svc, data, status, code, param):
    assert_error(post(svc, data, files={"file": AUDIO}), status, code, param)


def test_word_timestamps_are_refused_clearly(svc):
    response = post(svc, {"timestamp_granularities": "word"}, files={"file": AUDIO})
    assert_error(response, 422, "unsupported_value", "timestamp_granularities")


def test_diarize_without_a_speaker_model_is_answered_and_logged(svc, caplog):
    with caplog.at_level("WARNING", logger="bot.service.transcriptions"):
        body = post(svc, {"diarize": "true"}, files={"file": AUDIO}).json()
    assert body["text"] == "Hello there. General Kenobi."
    assert any("no speaker model" in r.getMessage() for r in caplog.records)


def test_missing_model_is_named(svc):
    response = httpx.post(f"{svc.url}/v1/audio/transcriptions", files={"file": AUDIO})
    assert_error(response, 422, "invalid_value", "model")


def test_audio_source_must_be_exactly_one(svc):
    assert_error(post(svc, {"file_url": "https://example.org/a.ogg"}, files={"file": AUDIO}), 400, "invalid_source")
    assert_error(post(svc, {"file_id": "file-0", "file_url": "https://example.org/a.ogg"}), 400, "invalid_source")
    assert_error(post(svc, {}), 400, "invalid_source", "file")


def test_empty_and_oversize_uploads(svc):
    assert_error(post(svc, files={"file": ("empty.ogg", b"")}), 400, "empty_file", "file")
    assert_error(post(svc, files={"file": ("big.ogg", b"\0" * 200_001)}), 413, "file_too_large")
    # Far over the cap: refused from Content-Length alone, the answer still arrives.
    assert_error(post(svc, files={"file": ("huge.ogg", b"\0" * 3_000_000)}), 413, "file_too_large")
    assert post(svc, files={"file": AUDIO}).status_code == 200


def test_files_api_round_trip_and_unknown_id(svc):
    up = httpx.post(f"{svc.url}/v1/files", data={"purpose": "audio"}, files={"file": AUDIO}).json()
    assert up["object"] == "file" and up["bytes"] == len(AUDIO[1]) and up["filename"] == "note.ogg"
    assert up["sample_type"] and up["source"] == "upload" and up["id"].startswith("file-")
    assert [f["id"] for f in httpx.get(f"{svc.url}/v1/files").json()["data"]] == [up["id"]]
    assert httpx.get(f"{svc.url}/v1/files/{up['id']}").json()["deleted"] is False
    assert post(svc, {"file_id": up["id"]}).json()["text"] == "Hello there. General Kenobi."
    assert httpx.delete(f"{svc.url}/v1/files/{up['id']}").json() == {"id": up["id"], "object": "file", "deleted": True}
    assert_error(post(svc, {"file_id": up["id"]}), 404, "file_not_found", "file_id")
    assert_error(httpx.get(f"{svc.url}/v1/files/../../etc/passwd"), 404)
    assert_error(httpx.post(f"{svc.url}/v1/files", files={"file": ("e.ogg", b"")}), 400, "empty_file")
    assert_error(httpx.post(f"{svc.url}/v1/files", files={"file": ("b.ogg", b"\0" * 200_001)}), 413)
    assert_error(httpx.post(f"{svc.url}/v1/files", data={"purpose": "audio"}), 422, param="file")


def test_expired_files_are_gone(service_factory, scripted_transcriber, tmp_path):
    svc = service_factory(service_settings(tmp_path, file_ttl_hours=0), scripted_transcriber(SEGMENTS, delay=0))
    up = httpx.post(f"{svc.url}/v1/files", files={"file": AUDIO}).json()
    assert_error(httpx.get(f"{svc.url}/v1/files/{up['id']}"), 404, "file_not_found")
    assert httpx.get(f"{svc.url}/v1/files").json()["data"] == []
    assert not list((tmp_path / "files").glob("file-*"))


def test_auth(service_factory, scripted_transcriber, tmp_path):
    settings = service_settings(tmp_path, api_keys="alpha-key, beta-key")
    svc = service_factory(settings, scripted_transcriber(SEGMENTS, delay=0))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic alpha-key"}):
        for response in (httpx.get(f"{svc.url}/v1/models", headers=headers),
                         post(svc, files={"file": AUDIO}, headers=headers),
                         httpx.get(f"{svc.url}/v1/files", headers=headers)):
            body = assert_error(response, 401)
            assert body["type"] == "authentication_error"
            assert "alpha" not in response.text
    ok = post(svc, files={"file": AUDIO}, headers={"Authorization": "Bearer beta-key"})
    assert ok.status_code == 200
    assert httpx.get(f"{svc.url}/health").status_code == 200  # liveness needs no key
    # Files belong to the key that uploaded them.
    alpha, beta = {"Authorization": "Bearer alpha-key"}, {"Authorization": "Bearer beta-key"}
    up = httpx.post(f"{svc.url}/v1/files", files={"file": AUDIO}, headers=alpha).json()
    assert_error(httpx.get(f"{svc.url}/v1/files/{up['id']}", headers=beta), 404)
    assert httpx.get(f"{svc.url}/v1/files/{up['id']}", headers=alpha).status_code == 200


def test_openai_response_formats(svc):
    assert post(svc, {"response_format": "text"}, files={"file": AUDIO}).text == "Hello there. General Kenobi."
    srt = post(svc, {"response_format": "srt"}, files={"file": AUDIO}).text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,200\nHello there.")
    vtt = post(svc, {"response_format": "vtt"}, files={"file": AUDIO}).text
    assert vtt.startswith("WEBVTT") and "00:00:01.400 --> 00:00:02.600" in vtt
    assert post(svc, {"response_format": "json"}, files={"file": AUDIO}).json()["text"] == "Hello there. General Kenobi."
    verbose = post(svc, {"response_format": "verbose_json"}, files={"file": AUDIO}).json()
    assert verbose["language"] == "en" and verbose["duration"] == 2.6 and len(verbose["segments"]) == 2


def test_mistral_stream_events(svc):
    with httpx.stream("POST", f"{svc.url}/v1/audio/transcriptions", data={"model": "scripted", "stream": "true"},
                      files={"file": AUDIO}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        names = [line.split(": ", 1)[1] for line in response.iter_lines() if line.startswith("event: ")]
    assert names[0] == "transcription.language" and names[-1] == "transcription.done"
    assert names.count("transcription.text.delta") == 2 and names.count("transcription.segment") == 2


def test_engine_failure_mid_stream_is_an_error_event(service_factory, scripted_transcriber, tmp_path):
    engine = scripted_transcriber(SEGMENTS, delay=0, fail=TranscriptionError("decoder blew up"), fail_after=1)
    svc = service_factory(service_settings(tmp_path), engine)
    with httpx.stream("POST", f"{svc.url}/v1/audio/transcriptions", data={"model": "scripted", "stream": "true"},
                      files={"file": AUDIO}) as response:
        lines = list(response.iter_lines())
    assert "event: error" in lines
    assert any("decoder blew up" in line for line in lines)
    # Failing before the first event is a plain JSON error instead.
    svc2 = service_factory(service_settings(tmp_path), scripted_transcriber(SEGMENTS, fail=TranscriptionError("x")))
    assert_error(post(svc2, {"stream": "true"}, files={"file": AUDIO}), 500, "engine_error")
    deadline = time.monotonic() + 10
    while httpx.get(f"{svc.url}/health").json()["running"] != 0:  # the slot is freed just after the last byte
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_openapi_document_describes_the_form(svc):
    doc = httpx.get(f"{svc.url}/openapi.json").json()
    form = doc["paths"]["/v1/audio/transcriptions"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"model", "file", "file_url", "file_id", "language", "context_bias", "stream"} <= set(
        form["schema"]["properties"]
    )
    assert "/v1/files/{file_id}" in doc["paths"] and "/v1/models" in doc["paths"]


class HeldAfterFirstSegment(ScriptedTranscriber):
    """Sends the first segment, then waits for `release` before the rest, as a slow engine would."""

    def __init__(self) -> None:
        super().__init__(SEGMENTS, delay=0)
        self.release = threading.Event()

    async def stream(self, request):
        count = 0
        async for event in super().stream(request):
            if event.type == "transcription.segment":
                count += 1
                if count == 2:
                    while not self.release.is_set():
                        await asyncio.sleep(0.01)
            yield event


def test_stream_sends_text_while_the_rest_is_recognised(service_factory, tmp_path):
    engine = HeldAfterFirstSegment()
    svc = service_factory(service_settings(tmp_path), engine)
    with httpx.stream("POST", f"{svc.url}/v1/audio/transcriptions", data={"model": "scripted", "stream": "true"},
                      files={"file": AUDIO}, timeout=20) as response:
        lines = response.iter_lines()
        received = []
        for line in lines:
            received.append(line)
            if line.startswith("data:") and '"text":"Hello there."' in line:
                break
        # The first piece arrived while the engine still holds the rest back.
        assert not engine.release.is_set()
        engine.release.set()
        received.extend(lines)
    assert "event: transcription.done" in received


def test_no_page_loads_anything_from_a_cdn(svc):
    """An offline network must not get a blank page that phones a CDN: the HTML doc pages are left out."""
    for path in ("/docs", "/redoc"):
        response = httpx.get(f"{svc.url}{path}")
        assert response.status_code == 404
        assert "cdn" not in response.text.lower()
    assert httpx.get(f"{svc.url}/openapi.json").status_code == 200


def test_voxtral_3_ids_and_underscored_phrases(svc):
    """Clients written for Voxtral 3 send its new ids and multi-word phrases with underscores."""
    engine = svc.app.state.service.transcriber
    for model in ("voxtral-mini-transcribe-3-0", "voxtral-small-transcribe-3", "voxtral-mini-transcribe-latest"):
        response = post(svc, {"model": model, "context_bias": ["pull_request", "Kubernetes"]}, files={"file": AUDIO})
        assert response.status_code == 200, response.text
        assert engine.requests[-1].context_bias == ["pull request", "Kubernetes"]
    assert httpx.get(f"{svc.url}/v1/models/voxtral-mini-transcribe-3").status_code == 200
