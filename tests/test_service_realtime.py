"""Mistral's realtime websocket on `voxnote serve`: the official SDK (`client.audio.realtime`) streams raw
PCM of a real recording at twice real time and gets the text back while it is still sending."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from mistralai.client import Mistral
from mistralai.client.models import AudioFormat

from bot.engine.audio import decode_audio_bytes
from bot.service.realtime import _G711, pcm_to_float
from tests.fixtures.engine import load_speech_clip, word_error_rate
from tests.fixtures.service import run_service, service_settings

KEY = "test-key"


def test_pcm_encodings_decode_to_the_same_signal():
    t = np.arange(1600) / 16000
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    s16 = (wave * 32767).astype("<i2").tobytes()
    assert np.allclose(pcm_to_float(s16, "pcm_s16le"), wave, atol=1e-4)
    assert np.allclose(pcm_to_float((wave * 2**31 * 0.999).astype("<i4").tobytes(), "pcm_s32le"), wave, atol=1e-3)
    assert np.allclose(pcm_to_float(wave.astype("<f2").tobytes(), "pcm_f16le"), wave, atol=1e-3)
    assert np.allclose(pcm_to_float(wave.tobytes(), "pcm_f32le"), wave)
    # G.711: the tables' extremes and symmetry (0xFF / 0xD5 are the codes of silence).
    assert _G711["mulaw"][0xFF] == 0 and _G711["alaw"][0xD5] == pytest.approx(8 / 32768)
    assert _G711["mulaw"].max() == pytest.approx(32124 / 32768) and _G711["alaw"].max() == pytest.approx(32256 / 32768)
    with pytest.raises(ValueError, match="whole samples"):
        pcm_to_float(b"\x00\x01\x02", "pcm_s16le")


@pytest.fixture(scope="module")
def engine_service(local_engine, tmp_path_factory):
    svc = run_service(service_settings(tmp_path_factory.mktemp("serve"), api_keys=KEY, max_concurrent=1), local_engine)
    yield svc
    svc.stop()


@pytest.mark.slow
async def test_the_sdk_streams_pcm_and_reads_text_while_sending(engine_service):
    data, reference = load_speech_clip("voice-note")
    samples = decode_audio_bytes(data, max_bytes=10**8, max_seconds=600).samples
    pcm = (samples * 32767).astype("<i2").tobytes()
    chunk = 3200  # 0.1 s
    sent_all_at: list[float] = []

    async def audio():
        for i in range(0, len(pcm), chunk):
            yield pcm[i : i + chunk]
            await asyncio.sleep(0.05)  # twice real time, as a live microphone would not even be
        sent_all_at.append(time.monotonic())

    events = []
    with Mistral(api_key=KEY, server_url=engine_service.url) as client:
        async for event in client.audio.realtime.transcribe_stream(
            audio(), model="voxtral-mini-latest",
            audio_format=AudioFormat(encoding="pcm_s16le", sample_rate=16000), language="en",
        ):
            events.append((time.monotonic(), event))
    kinds = [getattr(e, "type", None) for _, e in events]
    assert kinds[0] == "session.created" and kinds[-1] == "transcription.done", kinds
    assert "error" not in kinds
    deltas = [(t, e) for t, e in events if getattr(e, "type", None) == "transcription.text.delta"]
    assert deltas and deltas[0][0] < sent_all_at[0]  # text came back while audio was still going out
    done = events[-1][1]
    assert word_error_rate(reference, done.text) < 0.2, done.text
    assert "".join(e.text for _, e in deltas).strip() == done.text


@pytest.mark.slow
async def test_bad_key_and_bad_messages(engine_service):
    import websockets

    url = engine_service.url.replace("http://", "ws://") + "/v1/audio/transcriptions/realtime?model=voxtral-mini-latest"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(url, additional_headers={"Authorization": "Bearer wrong"}):
            pass
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        import json

        created = json.loads(await ws.recv())
        assert created["type"] == "session.created" and created["session"]["audio_format"]["encoding"] == "pcm_s16le"
        await ws.send(json.dumps({"type": "input_audio.append", "audio": "not base64!"}))
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.send(json.dumps({"type": "session.update", "session": {"audio_format": {"encoding": "opus"}}}))
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.send(json.dumps({"type": "input_audio.end"}))
        done = json.loads(await ws.recv())
        assert done["type"] == "transcription.done" and done["text"] == ""
