"""Fast preview, accurate final: a note that fits one Whisper window streams its first sentence early,
but its final transcript is exactly what plain faster-whisper gives on the whole note (same model, beam
and VAD), and the same on every run. The first-sentence cut used to cost real voices words at the cut
(arctic_a0009: WER 0.22 against 0.00 for plain faster-whisper)."""

from __future__ import annotations

import asyncio

import pytest

from bench.audio import opus_bytes, speech_of_length
from bot.engine.audio import decode_audio_bytes
from bot.models import DoneEvent, TextDeltaEvent, TranscriptionRequest
from tests.fixtures.engine import load_speech_clip

pytestmark = pytest.mark.slow

# The shipped recordings of real people (each with its licence), all under 30 s.
REAL_VOICES = ["allison_demo_nogo", "allison_tt_allbusy", "arctic_a0007", "arctic_a0009", "voice-note"]


def plain_faster_whisper(engine, data: bytes) -> str:
    samples = decode_audio_bytes(data, max_bytes=1 << 30, max_seconds=1e9).samples
    segments, _ = engine.load().transcribe(samples, beam_size=engine.settings.beam_size, vad_filter=True)
    return "".join(s.text for s in segments).strip()


async def stream(engine, data: bytes, final_from_done: bool = True) -> tuple[list[str], DoneEvent]:
    deltas: list[str] = []
    request = TranscriptionRequest(file=data, filename="note.ogg", final_from_done=final_from_done)
    async for event in engine.stream(request):
        if isinstance(event, TextDeltaEvent):
            deltas.append(event.text)
        elif isinstance(event, DoneEvent):
            return deltas, event
    raise AssertionError("no done event")


@pytest.mark.parametrize("name", REAL_VOICES)
async def test_the_final_is_plain_faster_whisper_on_the_whole_note(local_engine, name):
    data, _ = load_speech_clip(name)
    deltas, done = await stream(local_engine, data)
    assert deltas, "the preview streamed nothing before the final"
    assert done.text == plain_faster_whisper(local_engine, data)
    assert " ".join(s.text for s in done.segments) == done.text


async def test_the_final_is_the_same_on_every_run(local_engine):
    data, _ = load_speech_clip("arctic_a0009")
    finals = {(await stream(local_engine, data))[1].text for _ in range(3)}
    assert len(finals) == 1


async def test_without_the_flag_the_deltas_add_up_to_the_final(local_engine):
    """What an SSE client of `voxnote serve` relies on: the streamed deltas are the final text."""
    data, _ = load_speech_clip("allison_tt_allbusy")
    deltas, done = await stream(local_engine, data, final_from_done=False)
    assert "".join(deltas).strip() == done.text


async def test_a_note_still_downloading_previews_early_and_ends_on_the_same_final(local_engine):
    """Issue 15: fed as a download (`file_chunks`), a 45 s note shows its first words while its last chunk
    is still held back, and its final is the very text the whole file gives."""
    data = opus_bytes(speech_of_length(45))
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    first_words = asyncio.Event()
    last_sent = False

    async def download():
        nonlocal last_sent
        for chunk in chunks[:-1]:
            yield chunk
        await asyncio.wait_for(first_words.wait(), 120)  # the last chunk waits for the preview
        last_sent = True
        yield chunks[-1]

    request = TranscriptionRequest(file_chunks=download(), filename="note.ogg", final_from_done=True)
    done = None
    async for event in local_engine.stream(request):
        if isinstance(event, TextDeltaEvent) and not first_words.is_set():
            assert not last_sent  # these words came before the last byte
            first_words.set()
        elif isinstance(event, DoneEvent):
            done = event
    assert first_words.is_set() and last_sent and done is not None
    _, from_file = await stream(local_engine, data)
    assert done.text == from_file.text and done.segments == from_file.segments
