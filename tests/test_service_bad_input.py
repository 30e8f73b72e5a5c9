"""Unusable audio and bad requests get a clear JSON 4XX from the real engine code, and the server stays up.

The engine here has tight limits and is never asked to recognise anything, so its model is not loaded."""

from __future__ import annotations

import httpx
import pytest

from bot.engine.local import LocalTranscriber
from tests.fixtures.engine import engine_settings, load_speech_clip
from tests.fixtures.service import service_settings

MAX_BYTES = 100_000
MAX_SECONDS = 5.0


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    from tests.fixtures.service import run_service

    tmp = tmp_path_factory.mktemp("strict")
    limits = {"max_audio_bytes": MAX_BYTES, "max_audio_seconds": MAX_SECONDS}
    engine = LocalTranscriber(engine_settings(**limits))
    svc = run_service(service_settings(tmp, **limits), engine)
    yield svc
    svc.stop()
    engine.close()


def transcribe(svc, data=None, files=None) -> httpx.Response:
    data = {"model": "whisper-base", **(data or {})}
    return httpx.post(f"{svc.url}/v1/audio/transcriptions", data=data, files=files, timeout=30)


def check(response: httpx.Response, status: int, code: str, param: str, svc) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body["param"]) == (code, param), body
    assert body["message"] and body["type"] == "invalid_request_error"
    assert httpx.get(f"{svc.url}/health").json()["status"] == "ok"
    assert httpx.get(f"{svc.url}/v1/models").status_code == 200


def test_wrong_content(strict):
    text = ("notes.txt", b"Meeting notes: this is plainly not audio.\n" * 20)
    check(transcribe(strict, files={"file": text}), 415, "unsupported_audio", "file", strict)
    check(transcribe(strict, {"stream": "true"}, files={"file": text}), 415, "unsupported_audio", "file", strict)


def test_empty_file(strict):
    check(transcribe(strict, files={"file": ("empty.ogg", b"")}), 400, "empty_file", "file", strict)


def test_truncated_audio(strict):
    audio, _ = load_speech_clip("arctic_a0009")
    check(transcribe(strict, files={"file": ("cut.ogg", audio[: len(audio) // 2])}), 422, "corrupt_audio", "file",
          strict)


def test_oversize_upload(strict):
    check(transcribe(strict, files={"file": ("big.ogg", b"OggS" + b"\0" * MAX_BYTES)}), 413, "file_too_large", "file",
          strict)


def test_too_long_audio_from_each_source(strict, media_server):
    audio, _ = load_speech_clip("allison_demo_nogo")  # 10.5 s, over the 5 s limit
    check(transcribe(strict, files={"file": ("long.ogg", audio)}), 422, "audio_too_long", "file", strict)
    media_server.files["/long.ogg"] = audio
    check(transcribe(strict, {"file_url": media_server.url("/long.ogg")}), 422, "audio_too_long", "file_url", strict)
    file_id = httpx.post(f"{strict.url}/v1/files", files={"file": ("long.ogg", audio)}).json()["id"]
    check(transcribe(strict, {"file_id": file_id}), 422, "audio_too_long", "file_id", strict)


def test_request_mistakes(strict):
    audio, _ = load_speech_clip("arctic_a0009")
    check(transcribe(strict, {"file_id": "file-00000000000000000000000000000000"}), 404, "file_not_found", "file_id",
          strict)
    check(transcribe(strict, {"file_url": "https://example.org/a.ogg"}, files={"file": ("a.ogg", audio)}), 400,
          "invalid_source", "file_url", strict)
    check(transcribe(strict, {"language": "klingon"}, files={"file": ("a.ogg", audio)}), 422, "invalid_value",
          "language", strict)
    check(transcribe(strict, {"model": "voxtral-large"}, files={"file": ("a.ogg", audio)}), 400, "model_not_found",
          "model", strict)
