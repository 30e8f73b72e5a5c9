"""Decoding while the note downloads (issue 15): the head comes out before the last byte goes in, the
samples are the whole-file decoder's to the bit, and every cap of the whole-file decoder (bytes, declared
length, decoded length, decoding work, packet rate, truncation) holds on the stream, tested with the same
bombs fed chunk by chunk. Formats that need seeking fall back to the whole-file decoder."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator

import numpy as np
import pytest

from bench.audio import opus_bytes, speech_of_length
from bot.engine import audio_stream
from bot.engine.audio import SAMPLE_RATE, DecodedAudio, decode_audio_bytes, encode_wav
from bot.engine.audio_stream import DownloadDecode
from bot.errors import AudioTooLarge, AudioTooLong, CorruptAudio, EmptyAudio, UnsupportedAudio
from tests.fixtures.engine import load_speech_clip
from tests.fixtures.flac import constant_flac
from tests.test_audio import encode, tone
from tests.test_audio_bombs import DEFAULT_CAP, HOURS_3, SMALL_CAP, PacketCounter, pcm_bytes

BIG = 1 << 30
CHUNK = 64 * 1024


@pytest.fixture
def packets(monkeypatch: pytest.MonkeyPatch) -> PacketCounter:
    return PacketCounter().install(monkeypatch)


class Download:
    """Chunks of `data` as an adapter yields them; records how many were taken and whether it was closed."""

    def __init__(self, data: bytes, chunk: int = CHUNK, *, hold_last: asyncio.Event | None = None) -> None:
        self.data, self.chunk, self.hold_last = data, chunk, hold_last
        self.taken = 0
        self.closed = False
        self.last_byte_at: float | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for start in range(0, len(self.data), self.chunk):
                if start + self.chunk >= len(self.data) and self.hold_last is not None:
                    await asyncio.wait_for(self.hold_last.wait(), 30)  # the last chunk waits for the head
                self.taken += 1
                yield self.data[start : start + self.chunk]
                await asyncio.sleep(0)
            self.last_byte_at = time.monotonic()
        finally:
            self.closed = True


async def streamed(data: bytes, max_seconds: float = DEFAULT_CAP, *, max_bytes: int = BIG,
                   chunk: int = CHUNK) -> tuple[BaseException | DecodedAudio, DownloadDecode]:
    async with DownloadDecode(Download(data, chunk), max_bytes=max_bytes, max_seconds=max_seconds,
                              head_seconds=12) as download:
        try:
            return await download.whole(), download
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            return exc, download


def opus_note(seconds: float, fmt: str = "ogg") -> bytes:
    return opus_bytes(speech_of_length(seconds), fmt)


# --- the head before the end, the same samples at the end -------------------------------------------


@pytest.mark.parametrize("fmt", ["ogg", "webm", "wav"])
async def test_head_is_decoded_before_the_last_byte_arrives_and_the_whole_matches_the_file_decoder(fmt) -> None:
    data = encode_wav(speech_of_length(60)) if fmt == "wav" else opus_note(60, fmt)
    head_seen = asyncio.Event()
    download = Download(data, hold_last=head_seen)
    async with DownloadDecode(download, max_bytes=BIG, max_seconds=DEFAULT_CAP, head_seconds=12) as decode:
        head = await asyncio.wait_for(decode.head(), 30)
        # The download still holds its last chunk back: the head came from the bytes before it.
        assert download.last_byte_at is None and head is not None
        head_seen.set()
        whole = await decode.whole()
    reference = decode_audio_bytes(data, max_bytes=BIG, max_seconds=DEFAULT_CAP)
    assert decode.progressive
    assert head.size >= 12 * SAMPLE_RATE and np.array_equal(head, reference.samples[: head.size])
    assert np.array_equal(whole.samples, reference.samples) and whole.peak == reference.peak
    assert decode.data == data and download.closed


async def test_note_shorter_than_the_head_gives_no_head_and_the_same_samples() -> None:
    data, _ = load_speech_clip("arctic_a0009")
    async with DownloadDecode(Download(data, 1024), max_bytes=BIG, max_seconds=60, head_seconds=12) as decode:
        assert await decode.head() is None
        whole = await decode.whole()
    assert np.array_equal(whole.samples, decode_audio_bytes(data, max_bytes=BIG, max_seconds=60).samples)


async def test_m4a_with_its_index_at_the_end_falls_back_to_the_whole_file_decoder() -> None:
    data = encode(tone(20.0), "ipod", "aac", None)
    assert data.find(b"moov") > data.find(b"mdat")  # the index after the data: undecodable without seeking
    outcome, decode = await streamed(data)
    assert isinstance(outcome, DecodedAudio) and not decode.progressive
    assert np.array_equal(outcome.samples, decode_audio_bytes(data, max_bytes=BIG, max_seconds=DEFAULT_CAP).samples)


# --- the same caps as the whole-file decoder ----------------------------------------------------------


async def test_byte_cap_stops_the_download_while_it_streams() -> None:
    data = opus_note(60)
    download = Download(data, 4096)
    async with DownloadDecode(download, max_bytes=20_000, max_seconds=DEFAULT_CAP, head_seconds=12) as decode:
        with pytest.raises(AudioTooLarge):
            await decode.whole()
    assert download.taken == 20_000 // 4096 + 1 and download.closed  # not one chunk more than needed


@pytest.mark.parametrize("cap", [DEFAULT_CAP, HOURS_3], ids=["default-cap", "cap-equal-to-its-length"])
async def test_declared_three_hours_are_refused_from_the_header(packets, cap) -> None:
    outcome, decode = await streamed(constant_flac(HOURS_3), cap)
    assert isinstance(outcome, AudioTooLong) and "10800 s" in str(outcome), outcome
    assert packets.count == 0


@pytest.mark.parametrize("real", [SMALL_CAP, HOURS_3], ids=["exactly-the-cap", "3h"])
@pytest.mark.parametrize("claim", [0.0, 10.0], ids=["no-length", "claims-10s"])
async def test_false_or_no_length_is_refused_when_the_stream_reaches_the_cap(packets, claim, real) -> None:
    data = constant_flac(real, declared=claim, value=1000)
    tracemalloc.start()
    outcome, decode = await streamed(data, SMALL_CAP)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(outcome, AudioTooLong), outcome
    assert decode.progressive and packets.count <= SMALL_CAP * SAMPLE_RATE / 4096 + 2
    # The cap's PCM, the file's bytes (kept for a translation) and the chunks in flight: nothing grows past.
    assert peak <= pcm_bytes(SMALL_CAP) + len(data) + (audio_stream.QUEUE_CHUNKS + 4) * CHUNK + 1_000_000, peak


async def test_dense_stream_is_refused_by_the_running_count(packets) -> None:
    outcome, _ = await streamed(constant_flac(540, rate=192_000, channels=8, block=16384, declared=0), SMALL_CAP)
    assert isinstance(outcome, AudioTooLong) and "too much audio data" in str(outcome), outcome
    assert packets.count <= 37.5 * 192_000 / 16384 + 2, packets.count


async def test_declared_dense_stream_is_refused_before_decoding(packets) -> None:
    outcome, _ = await streamed(constant_flac(600, rate=192_000, channels=8, block=16384))
    assert isinstance(outcome, AudioTooLong) and "192 kHz with 8 channels" in str(outcome), outcome
    assert packets.count == 0


async def test_tiny_packets_are_refused_by_their_rate(packets) -> None:
    from bot.engine import audio as audio_module

    outcome, _ = await streamed(constant_flac(60, block=16, value=1000))
    assert isinstance(outcome, UnsupportedAudio) and "tiny packets" in str(outcome), outcome
    assert packets.count <= audio_module._PACKET_GRACE + 1


@pytest.mark.parametrize("keep", [0.5, 0.9])
async def test_truncated_ogg_is_refused_as_by_the_file_decoder(keep) -> None:
    data, _ = load_speech_clip("espeak_en")
    outcome, _ = await streamed(data[: int(len(data) * keep)], chunk=1000)
    assert isinstance(outcome, CorruptAudio) and "truncated" in str(outcome), outcome


async def test_empty_download_is_empty_audio() -> None:
    outcome, _ = await streamed(b"")
    assert isinstance(outcome, EmptyAudio)


# --- leaving stops everything -------------------------------------------------------------------------


async def test_leaving_stops_the_download_and_the_decoder_thread(packets, monkeypatch) -> None:
    """The consumer went away mid-note: the download is closed and the thread stops at its next read."""
    real = audio_stream.decode_stream
    finished = threading.Event()

    def tracked(*args: object, **kwargs: object) -> object:
        try:
            return real(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(audio_stream, "decode_stream", tracked)
    gate = asyncio.Event()  # the download never sends its last chunk
    download = Download(constant_flac(3600, value=1000, declared=0), 4096, hold_last=gate)
    async with DownloadDecode(download, max_bytes=BIG, max_seconds=DEFAULT_CAP, head_seconds=12) as decode:
        await asyncio.wait_for(decode.head(), 30)
        assert decode.progressive and not finished.is_set()
    assert download.closed
    assert await asyncio.to_thread(finished.wait, 5)  # the thread is not left waiting for bytes


@pytest.mark.parametrize("fmt", ["ogg", "m4a"])
async def test_pcm_comes_out_as_it_is_decoded_and_adds_up_to_the_whole(fmt) -> None:
    """What a realtime client streams on: pieces in order, the last one out before the file's end for a
    streamable container; the whole-file decoder's samples in one piece for one that is not."""
    data = opus_note(30) if fmt == "ogg" else encode(tone(20.0), "ipod", "aac", None)
    gate = asyncio.Event()
    if fmt == "m4a":
        gate.set()  # nothing can come out of an M4A before its last byte
    pieces = []
    async with DownloadDecode(Download(data, 4096, hold_last=gate), max_bytes=BIG, max_seconds=DEFAULT_CAP,
                              head_seconds=12, pcm=True) as decode:
        async for piece in decode.pcm():
            pieces.append(piece)
            if sum(p.size for p in pieces) >= 12 * SAMPLE_RATE:
                gate.set()  # the last chunk goes once 12 s came out
        whole = await decode.whole()
    assert np.array_equal(np.concatenate(pieces), whole.samples)
    assert (len(pieces) > 10) == (fmt == "ogg") and decode.progressive == (fmt == "ogg")
