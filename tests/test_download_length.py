"""A note decoded while it downloads still gets its progress bar: the length its container declares is
read from the download's head, for the containers that declare it there (WebM, FLAC), and only those:
from a partial Ogg or WAV FFmpeg would report the part, not the note."""

from __future__ import annotations

import pytest

from bench.audio import opus_bytes, speech_of_length, wav_bytes
from bot.pipeline import _Recorded
from tests.fixtures.flac import constant_flac


async def _download(data: bytes, chunk: int = 65536):
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


@pytest.mark.parametrize(("kind", "expected"), [("webm", 100.0), ("flac", 600.0), ("ogg", None), ("wav", None)])
async def test_the_declared_length_comes_from_the_head_of_the_download(kind, expected) -> None:
    samples = speech_of_length(100) if kind != "flac" else None
    data = {"webm": lambda: opus_bytes(samples, "webm"), "ogg": lambda: opus_bytes(samples, "ogg"),
            "wav": lambda: wav_bytes(samples), "flac": lambda: constant_flac(600, value=1000)}[kind]()
    lengths: list[float | None] = []
    download = _Recorded(_download(data), lengths.append)
    seen = 0
    async for chunk in download:
        if lengths:
            assert seen < len(data)  # known before the download ended
        seen += len(chunk)
    assert download.data == data
    if expected is None:
        assert lengths == []
    else:
        assert lengths == [pytest.approx(expected, abs=0.1)]
