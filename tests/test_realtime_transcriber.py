"""`VOXNOTE_TRANSCRIBER=realtime` (issue 19): the bot's client of the realtime websocket, against a real
`voxnote serve` on the local engine. It decodes the note while it downloads and streams the PCM on, so
text comes back before the download's last chunk; the caps of the local decoder hold on the way; a bad
key and a dead service are the usual typed errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bot.config import Settings
from bot.engine.factory import make_transcriber
from bot.engine.realtime_client import RealtimeTranscriber, realtime_url
from bot.errors import AudioTooLong, TranscriptionRejected, TranscriptionUnavailable
from bot.models import DoneEvent, TextDeltaEvent, TranscriptionRequest
from tests.fixtures.engine import load_speech_clip, word_error_rate
from tests.fixtures.flac import constant_flac
from tests.fixtures.service import run_service, service_settings

KEY = "test-key"


@pytest.fixture(scope="module")
def engine_service(local_engine, tmp_path_factory):
    svc = run_service(service_settings(tmp_path_factory.mktemp("serve"), api_keys=KEY, max_concurrent=1), local_engine)
    yield svc
    svc.stop()


def client(url: str, key: str = KEY, **overrides) -> RealtimeTranscriber:
    settings = Settings(_env_file=None, transcriber="realtime", mistral_base_url=url, mistral_api_key=key,
                        connect_timeout_s=2.0, **overrides)  # type: ignore[call-arg]
    return RealtimeTranscriber.from_settings(settings)


def test_the_setting_picks_the_realtime_client_and_its_url() -> None:
    settings = Settings(_env_file=None, transcriber="realtime", mistral_base_url="https://engine.example:8443/")  # type: ignore[call-arg]
    engine = make_transcriber(settings)
    assert isinstance(engine, RealtimeTranscriber)
    assert engine.url == "wss://engine.example:8443/v1/audio/transcriptions/realtime?model=voxtral-mini-latest"
    assert realtime_url("http://127.0.0.1:9/", "m") == "ws://127.0.0.1:9/v1/audio/transcriptions/realtime?model=m"


@pytest.mark.slow
async def test_text_comes_back_before_the_download_ends(engine_service) -> None:
    data, reference = load_speech_clip("voice-note")
    chunks = [data[i : i + 2048] for i in range(0, len(data), 2048)]
    first_words = asyncio.Event()
    last_sent = False

    async def download():
        nonlocal last_sent
        for chunk in chunks[:-1]:
            yield chunk
            await asyncio.sleep(0.01)
        await asyncio.wait_for(first_words.wait(), 120)  # the last chunk waits for the first words
        last_sent = True
        yield chunks[-1]

    request = TranscriptionRequest(file_chunks=download(), filename="note.ogg", language="en", final_from_done=True)
    deltas: list[str] = []
    done = None
    async for event in client(engine_service.url).stream(request):
        if isinstance(event, TextDeltaEvent):
            assert deltas or not last_sent  # the first words came before the last byte
            deltas.append(event.text)
            first_words.set()
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None and last_sent
    assert word_error_rate(reference, done.text) < 0.2, done.text
    assert "".join(deltas).strip() == done.text and done.segments


async def test_the_decoders_caps_hold_before_audio_goes_out(engine_service) -> None:
    """A FLAC that declares 3 hours: refused from its header, as by the local engine."""
    request = TranscriptionRequest(file=constant_flac(3 * 3600.0), filename="bomb.flac")
    with pytest.raises(AudioTooLong):
        await client(engine_service.url).complete(request)


async def test_a_wrong_key_is_rejected_at_the_handshake(engine_service) -> None:
    data, _ = load_speech_clip("arctic_a0009")
    with pytest.raises(TranscriptionRejected, match="403"):
        await client(engine_service.url, key="wrong").complete(TranscriptionRequest(file=data))


async def test_a_dead_service_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    data, _ = load_speech_clip("arctic_a0009")
    with pytest.raises(TranscriptionUnavailable):
        await client(f"http://127.0.0.1:{port}").complete(TranscriptionRequest(file=data))
