"""Decode a note while it downloads: its first seconds reach recognition before its last bytes arrive.

PyAV reads a non-seekable file fed from the event loop through a small bounded queue, in a worker thread:
Ogg, WebM/Matroska, FLAC and WAV decode front to back without seeking (checked by their magic numbers); other
containers (M4A whose index sits at the end, MP3 with a trailing tag...) wait for the whole file and go
through `load_audio` as before. Every cap of `bot.engine.audio` holds on the way: the byte limit as the
chunks arrive, the declared duration and the decoding work from the header, the decoded length, the work
and the packet rate per packet, the truncated-file check once the last byte is in. A stream the decoder
cannot read progressively (damaged, or a format that wants seeking after all) falls back to the whole-file
decoder on the same bytes, so its typed error or its samples are what they would have been.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import threading
from collections.abc import AsyncIterable, AsyncIterator

import av
import numpy as np

from bot.engine.audio import (
    SAMPLE_RATE,
    DecodeCancelled,
    DecodedAudio,
    check_complete,
    check_declared,
    decode_stream,
    human_size,
    load_audio,
)
from bot.errors import AudioTooLarge, CorruptAudio, EmptyAudio

#: Chunks in flight between the download and the decoder thread (64 KB each from the adapters): memory
#: stays bounded when the decoder falls behind, as the download then waits.
QUEUE_CHUNKS = 16
_SNIFF = 12  # bytes needed to tell a streamable container
_POLL_S = 0.1  # how often a decoder waiting for bytes looks at its cancel flag


def streamable(head: bytes) -> bool:
    """True for containers PyAV decodes front to back: Ogg, Matroska/WebM, FLAC, RIFF WAVE."""
    return head.startswith((b"OggS", b"\x1a\x45\xdf\xa3", b"fLaC")) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")


class _Fallback(Exception):
    """The progressive decoder could not read this stream: decode the whole file instead."""


class _PipeReader:
    """A read-only, non-seekable file for PyAV (no `seek`, so FFmpeg never tries): `read` takes the chunks
    the event loop puts in a bounded asyncio queue; `None` in the queue is the end of the file."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None],
                 cancel: threading.Event) -> None:
        self._loop, self._queue, self._cancel = loop, queue, cancel
        self._pending = memoryview(b"")
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        while not self._pending and not self._eof:
            item = self._next()
            if item is None:
                self._eof = True
            else:
                self._pending = memoryview(item)
        if size < 0 or size >= len(self._pending):
            out, self._pending = bytes(self._pending), memoryview(b"")
        else:
            out, self._pending = bytes(self._pending[:size]), self._pending[size:]
        return out

    def _next(self) -> bytes | None:
        future = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
        while True:
            if self._cancel.is_set():
                future.cancel()
                raise DecodeCancelled()
            try:
                return future.result(timeout=_POLL_S)
            except concurrent.futures.TimeoutError:
                continue


class DownloadDecode:
    """Bytes in as they download, samples out: `head()` as soon as `head_seconds` are decoded (None when the
    whole note came first or cannot be decoded progressively), then `whole()`, then `data` (the file's bytes,
    which a translation or a retry needs again). Use as an async context manager: leaving it stops the
    download and the decoder thread."""

    def __init__(self, chunks: AsyncIterable[bytes], *, max_bytes: int, max_seconds: float,
                 head_seconds: float, pcm: bool = False) -> None:
        self._chunks = chunks
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self._head_samples = max(1, int(head_seconds * SAMPLE_RATE))
        self._data = io.BytesIO()
        self._cancel = threading.Event()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
        self._head: asyncio.Future[np.ndarray | None] | None = None
        self._task: asyncio.Task[DecodedAudio] | None = None
        #: True while and once the progressive decoder has the stream (False: the whole-file decoder).
        self.progressive = False
        # With `pcm`: the samples as they are decoded, for `pcm()`; None ends them.
        self._pcm: asyncio.Queue[np.ndarray | None] | None = asyncio.Queue() if pcm else None
        self._pcm_sent = 0

    async def __aenter__(self) -> DownloadDecode:
        loop = asyncio.get_running_loop()
        self._head = loop.create_future()
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cancel.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def head(self) -> np.ndarray | None:
        assert self._head is not None, "use DownloadDecode as an async context manager"
        return await asyncio.shield(self._head)

    async def whole(self) -> DecodedAudio:
        assert self._task is not None, "use DownloadDecode as an async context manager"
        return await asyncio.shield(self._task)

    async def pcm(self) -> AsyncIterator[np.ndarray]:
        """The samples in order as they are decoded (made with `pcm=True`); then `whole()` says whether the
        file was whole and under every cap (it raises what stopped the decoding)."""
        assert self._pcm is not None, "made without pcm=True"
        while (piece := await self._pcm.get()) is not None:
            yield piece

    @property
    def data(self) -> bytes:
        return self._data.getvalue()

    # --- event loop side ----------------------------------------------------------------------------

    async def _run(self) -> DecodedAudio:
        chunks = aiter(self._chunks)
        try:
            async for chunk in chunks:
                self._keep(chunk)
                if self._data.tell() >= _SNIFF:
                    break
            if streamable(self._data.getbuffer()[:_SNIFF].tobytes()):
                try:
                    return await self._progressive(chunks)
                except _Fallback:
                    pass
            async for chunk in chunks:
                self._keep(chunk)
            audio = await self._whole_file()
            # What the progressive decoder already gave out is the start of these same samples.
            self._put_pcm(audio.samples[self._pcm_sent :])
            return audio
        finally:
            self._cancel.set()
            self._set_head(None)
            if self._pcm is not None:
                self._pcm.put_nowait(None)
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()  # closes the HTTP response of a download cut short

    def _keep(self, chunk: bytes) -> None:
        self._data.write(chunk)
        if self._data.tell() > self.max_bytes:
            raise AudioTooLarge(f"the file is over the {human_size(self.max_bytes)} limit")

    async def _progressive(self, chunks: AsyncIterator[bytes]) -> DecodedAudio:
        loop = asyncio.get_running_loop()
        self.progressive = True
        decoding = asyncio.ensure_future(asyncio.to_thread(self._decode, _PipeReader(loop, self._queue, self._cancel)))
        # A decoder that stopped (a cap, a fallback) reads no more: free the queue so the download never
        # waits on it, and stop feeding.
        decoding.add_done_callback(lambda _: self._drain())
        try:
            await self._put(self._data.getvalue(), decoding)
            async for chunk in chunks:
                self._keep(chunk)
                await self._put(chunk, decoding)
            await self._put(None, decoding)
            samples, peak = await decoding
        except _Fallback:
            self.progressive = False
            async for chunk in chunks:  # the rest of the file, for the whole-file decoder
                self._keep(chunk)
            raise
        finally:
            self._cancel.set()  # done, failed or cancelled: a decoder still running stops at its next read
        check_complete(self.data)  # what FFmpeg forgives in a truncated Ogg (its last page dropped)
        if samples.size == 0:
            raise EmptyAudio("the recording has no sound in it (0 seconds)")
        return DecodedAudio(samples=samples, duration=samples.size / SAMPLE_RATE, peak=peak)

    async def _put(self, item: bytes | None, decoding: asyncio.Future[tuple[np.ndarray, float]]) -> None:
        if decoding.done():
            await decoding  # its error (a cap, or _Fallback) stops the download here
            return
        await self._queue.put(item)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _whole_file(self) -> DecodedAudio:
        data = self.data
        if not data:
            raise EmptyAudio()
        return await load_audio(data, max_bytes=self.max_bytes, max_seconds=self.max_seconds)

    def _put_pcm(self, samples: np.ndarray) -> None:
        if self._pcm is not None and samples.size:
            self._pcm_sent += samples.size
            self._pcm.put_nowait(samples)

    def _set_head(self, samples: np.ndarray | None) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_result(samples)

    # --- decoder thread -------------------------------------------------------------------------------

    def _decode(self, reader: _PipeReader) -> tuple[np.ndarray, float]:
        loop = self._head.get_loop() if self._head is not None else None

        def on_head(samples: np.ndarray) -> None:
            if loop is not None:
                loop.call_soon_threadsafe(self._set_head, samples)

        def sink(samples: np.ndarray) -> None:
            if loop is not None:
                loop.call_soon_threadsafe(self._put_pcm, samples)

        try:
            container = av.open(reader, mode="r", metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise _Fallback() from exc
        with container:
            if not container.streams.audio:
                raise _Fallback()  # the whole-file decoder says what it is instead
            stream = container.streams.audio[0]
            declared = check_declared(container, stream, self.max_seconds)
            try:
                return decode_stream(container, stream, self.max_seconds, declared, self._cancel,
                                     head=(self._head_samples, on_head), sink=sink if self._pcm is not None else None)
            except CorruptAudio as exc:
                raise _Fallback() from exc
