"""Named speakers (Mistral's `speaker_references`): the official SDK against `voxnote serve` on the real
engine, and voxnote's own client. A reference is another recording of that person; a voice nobody
enrolled keeps `speaker_N`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from mistralai.client import Mistral

from bot.engine.audio import encode_wav
from bot.engine.mistral import MistralTranscriber
from bot.models import TranscriptionRequest
from tests.fixtures.engine import load_speech_clip
from tests.fixtures.service import run_service, service_settings
from tests.fixtures.speakers import flite_available, speak

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not flite_available(), reason="needs flite")]
KEY = "test-key"
TURNS = json.loads((Path(__file__).parent / "data" / "dialogue.turns.json").read_text())["turns"]


def reference(voice: str) -> str:
    """Base64 of a WAV of `voice` saying something that is not in the dialogue (as the SDK sends it)."""
    text = "This is my voice for the meeting notes. I speak like this when I talk about our plans."
    return base64.b64encode(encode_wav(speak(voice, text))).decode()


def voice_at(start: float, end: float) -> str:
    """The dialogue's true voice over most of [start, end]."""
    overlap = {t["voice"]: 0.0 for t in TURNS}
    for t in TURNS:
        overlap[t["voice"]] += max(0.0, min(end, t["end"]) - max(start, t["start"]))
    return max(overlap, key=overlap.__getitem__)


@pytest.fixture(scope="module")
def engine_service(local_engine, tmp_path_factory):
    svc = run_service(service_settings(tmp_path_factory.mktemp("serve"), api_keys=KEY, max_concurrent=1), local_engine)
    yield svc
    svc.stop()


def test_the_sdk_names_enrolled_speakers_and_no_one_else(engine_service):
    audio, _ = load_speech_clip("dialogue")
    references = {"Sally": reference("slt"), "Rob": reference("rms")}
    assert all(len(v) > 64 * 1024 for v in references.values())  # what Starlette's default part limit refused
    with Mistral(api_key=KEY, server_url=engine_service.url) as client:
        result = client.audio.transcriptions.complete(
            model="voxtral-mini-latest", file={"file_name": "dialogue.ogg", "content": audio}, language="en",
            diarize=True, speaker_references=references,
        )
    by_voice: dict[str, set[str]] = {}
    for seg in result.segments:
        by_voice.setdefault(voice_at(seg.start, seg.end), set()).add(seg.speaker_id)
    assert by_voice["flite slt"] == {"Sally"} and by_voice["flite rms"] == {"Rob"}
    assert by_voice["flite awb"] and not by_voice["flite awb"] & {"Sally", "Rob"}  # not enrolled: not named
    assert all(s.startswith("speaker_") for s in by_voice["flite awb"])


async def test_our_client_sends_references_and_bad_ones_are_refused_by_name(engine_service):
    audio, _ = load_speech_clip("dialogue")
    rob = base64.b64decode(reference("rms"))
    async with MistralTranscriber(engine_service.url, KEY) as client:
        transcript = await client.complete(TranscriptionRequest(
            file=audio, filename="d.ogg", language="en", diarize=True, speaker_references={"Rob": rob}))
    assert "Rob" in {s.speaker_id for s in transcript.segments}

    url = f"{engine_service.url}/v1/audio/transcriptions"
    auth = {"Authorization": f"Bearer {KEY}"}
    files = {"file": ("d.ogg", audio)}
    bad = {"model": "voxtral-mini-latest", "diarize": "true", "speaker_references": json.dumps({"Ann": "bm90IGF1ZGlv"})}
    answer = httpx.post(url, data=bad, files=files, headers=auth, timeout=60)
    assert answer.status_code == 400 and answer.json()["param"] == "speaker_references" and "Ann" in answer.text
    no_diarize = {**bad, "diarize": "false"}
    answer = httpx.post(url, data=no_diarize, files=files, headers=auth, timeout=60)
    assert answer.status_code == 422 and "diarize" in answer.json()["message"]
    not_json = {**bad, "speaker_references": "{Ann: x"}
    answer = httpx.post(url, data=not_json, files=files, headers=auth, timeout=60)
    assert answer.status_code == 422 and answer.json()["param"] == "speaker_references"
