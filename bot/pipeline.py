"""One note, one platform: settings -> audio source -> live stream into the reply -> final render -> store."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.platform import ChatPlatform
from bot.engine.audio import declared_duration, human_size
from bot.config import Settings
from bot.errors import AudioTooLarge, AudioTooLong, EmptyAudio, StreamInterrupted, TranscriptionRejected
from bot.live_reply import LiveReply
from bot.metrics import FIRST_TEXT, JOB_SECONDS
from bot.models import (
    AudioNote,
    ChannelSettings,
    DoneEvent,
    MessageRef,
    SegmentEvent,
    TextDeltaEvent,
    Transcript,
    TranscriptionRequest,
)
from bot.render import render_final
from bot.speakers import Speakers
from bot.summary.threads import Summaries
from bot.translation import TranslationUnavailable, Translator, needs_translation
from bot.engine.transcriber import Transcriber
from storage import Store

log = logging.getLogger(__name__)

PLACEHOLDER = ":studio_microphone: Transcribing…"
DEFAULT_BOLD = "**{}**"


def bold_style(platform: ChatPlatform) -> str:
    """How the platform writes bold text (`*x*` on Slack, `**x**` elsewhere)."""
    return getattr(platform, "bold", DEFAULT_BOLD)


def check_limits(note: AudioNote, settings: Settings) -> None:
    """Refuse what the platform already tells us is too big or too long, before any download."""
    if note.size is not None:
        if note.size == 0:
            raise EmptyAudio(f"{note.filename} is empty")
        if note.size > settings.max_audio_bytes:
            raise AudioTooLarge(
                f"{note.filename} is too large ({human_size(note.size)}; the limit is "
                f"{human_size(settings.max_audio_bytes)})"
            )
    if note.duration is not None and note.duration >= settings.max_audio_seconds:
        raise AudioTooLong(
            f"the recording is too long ({note.duration / 60:.0f} min; the limit is "
            f"{settings.max_audio_seconds / 60:.0f} min)"
        )


class NotePipeline:
    def __init__(self, settings: Settings, store: Store, transcriber: Transcriber, summaries: Summaries,
                 speakers: Speakers | None = None) -> None:
        self.settings = settings
        self.store = store
        self.transcriber = transcriber
        self.summaries = summaries
        self.speakers = speakers
        self.translator = Translator(transcriber, summaries.llm)

    async def _bytes_request(self, note: AudioNote, platform: ChatPlatform, chan: ChannelSettings) -> TranscriptionRequest:
        data = await platform.fetch_audio(note, self.settings.max_audio_bytes)
        if not data:
            raise EmptyAudio(f"{note.filename} is empty")
        if len(data) > self.settings.max_audio_bytes:
            raise AudioTooLarge(
                f"{note.filename} is too large (over the {human_size(self.settings.max_audio_bytes)} limit)"
            )
        # The reply's final text is rendered from the done event: the engine may revise its preview.
        return TranscriptionRequest.for_settings(chan, file=data, filename=note.filename, final_from_done=True)

    async def run(self, note: AudioNote, platform: ChatPlatform, reply: MessageRef) -> Transcript:
        """Transcribe `note` into the already-posted `reply`; typed errors propagate to the job runner."""
        started = time.monotonic()
        check_limits(note, self.settings)
        chan = await self.store.get_settings(note.platform, note.workspace_id, note.channel_id)
        if note.language is not None:
            # Asked for in this language (a flag reaction): it wins over the channel's.
            chan = chan.model_copy(update={"language": note.language, "languages": []})
        live = LiveReply(
            lambda text: platform.edit(reply, text),
            platform.min_edit_interval,
            platform.max_message_chars,
            header=PLACEHOLDER,
            budget=functools.partial(platform.edit_budget, reply) if hasattr(platform, "edit_budget") else None,
        )
        key = note.idempotency_key
        # A run that crashed after transcribing left the transcript stored: reuse it, don't redo the work.
        transcript = await self.store.get_transcript(key)
        redo = transcript is not None and note.language is not None and transcript.language != note.language
        if redo:
            transcript = None  # stored in another language: this run was asked to redo it
        audio: TranscriptionRequest | None = None
        if transcript is None:
            try:
                transcript, audio = await self._transcribe(note, platform, chan, live)
            except BaseException:
                await live.aclose()
                raise
            await self.store.save_transcript(note, transcript)
        rendered = render_final(transcript, chan, platform.max_message_chars, bold=bold_style(platform))
        await live.finish(rendered.messages[0])
        if (chan.translate or note.translate) and needs_translation(transcript):
            await self._translation(note, platform, reply, chan, transcript, rendered.messages[0], audio)
        # Continuations, files and the summary are new messages, not edits: post them only once.
        # Each is recorded as soon as it is posted, so a crash part-way reposts none of those before it.
        extras: list[Callable[[], Awaitable[object]]] = [
            *(functools.partial(platform.post_in_thread, reply, extra) for extra in rendered.messages[1:]),
            *(functools.partial(platform.upload, reply, name, data, comment="Full transcript")
              for name, data in rendered.files),
        ]
        # A redo in another language does not summarise the same note a second time.
        if self.summaries.wanted(transcript, chan.summary_threshold_s) and not redo:
            extras.append(functools.partial(self._post_summary, note, platform, reply, transcript))
        posted = await self.store.extras_posted(key)
        for index in range(posted, len(extras)):
            await extras[index]()
            await self.store.mark_extras_posted(key, index + 1)
        if live.first_text_at is not None:
            FIRST_TEXT.observe(live.first_text_at - started)
        JOB_SECONDS.observe(time.monotonic() - started)
        return transcript

    async def _translation(
        self,
        note: AudioNote,
        platform: ChatPlatform,
        reply: MessageRef,
        chan: ChannelSettings,
        transcript: Transcript,
        first: str,
        audio: TranscriptionRequest | None,
    ) -> None:
        """The English translation under the transcript, in the same reply once the final is shown (or in a
        file when both do not fit). A bonus like the summary: its failure does not fail the note."""
        key = note.idempotency_key
        try:
            english, posted = await self.store.get_translation(key)
            if english is None:

                async def note_audio() -> TranscriptionRequest:
                    return audio if audio is not None else await self._bytes_request(note, platform, chan)

                try:
                    english = await self.translator.to_english(transcript, note_audio)
                except TranslationUnavailable as exc:
                    await platform.edit(reply, f"{first}\n\n🌐 _{exc}._")
                    return
                await self.store.save_translation(key, english)
            label = bold_style(platform).format("English")
            combined = f"{first}\n\n🌐 {label}: {english}"
            if len(combined) <= platform.max_message_chars:
                await platform.edit(reply, combined)
            elif not posted:
                await platform.upload(reply, "translation.txt", (english + "\n").encode(), comment="English translation")
                await self.store.save_translation(key, english, posted=True)
        except Exception:
            log.exception("translation of %s failed", key)

    async def _post_summary(
        self, note: AudioNote, platform: ChatPlatform, reply: MessageRef, transcript: Transcript
    ) -> None:
        # A summary is a bonus: failing it must not fail (and re-run) a transcription that succeeded.
        try:
            text = await self.summaries.render([transcript], note.platform, platform.max_message_chars)
            await platform.post_in_thread(reply, text)
        except Exception:
            log.exception("summary of %s failed", note.idempotency_key)

    async def _transcribe(
        self, note: AudioNote, platform: ChatPlatform, chan: ChannelSettings, live: LiveReply
    ) -> tuple[Transcript, TranscriptionRequest | None]:
        """The transcript, and the request holding the note's bytes when they were fetched (a translation
        by the engine needs them again)."""
        live.set_duration(note.duration)
        # The workspace's enrolled voices name the speakers they match (diarized notes only).
        prints = (await self.speakers.prints(note.platform, note.workspace_id)
                  if chan.diarize and self.speakers is not None else {})
        if note.public_url and self.transcriber.can_fetch_urls:
            request = TranscriptionRequest.for_settings(chan, file_url=note.public_url, speaker_prints=prints)
            try:
                transcript = await self._consume(request, live)
                return await self._named(note, platform, transcript, None, prints), None
            except TranscriptionRejected as exc:
                # The service could not fetch the URL (expired, blocked): send the bytes ourselves.
                if live.has_text:
                    raise
                log.info("file_url refused (%s); sending the bytes instead", exc)
        if getattr(self.transcriber, "accepts_chunks", False) and hasattr(platform, "stream_audio"):
            # Recognition starts on the note's head while the rest still downloads (issue 15).
            download = _Recorded(platform.stream_audio(note, self.settings.max_audio_bytes),
                                 None if note.duration is not None else live.set_duration)
            request = TranscriptionRequest.for_settings(chan, file_chunks=download, filename=note.filename,
                                                        final_from_done=True, speaker_prints=prints)
            transcript = await self._consume(request, live)
            transcript = await self._named(note, platform, transcript, download.data, prints)
            return transcript, TranscriptionRequest.for_settings(chan, file=download.data, filename=note.filename,
                                                                 final_from_done=True)
        request = await self._bytes_request(note, platform, chan)
        request = request.model_copy(update={"speaker_prints": prints})
        if note.duration is None and request.file is not None:
            # An uploaded file rarely says how long it is; its container does, without decoding.
            live.set_duration(await asyncio.to_thread(declared_duration, request.file))
        transcript = await self._consume(request, live)
        return await self._named(note, platform, transcript, request.file, prints), request

    async def _named(self, note: AudioNote, platform: ChatPlatform, transcript: Transcript, data: bytes | None,
                     prints: dict[str, list[float]]) -> Transcript:
        """Names enrolled speakers when the engine could not (a remote service: its API takes recordings
        and the bot keeps none, only voiceprints). A bonus: a failure leaves the `Speaker N` labels."""
        if not prints or self.speakers is None or getattr(self.transcriber, "names_voiceprints", False):
            return transcript
        if not any(s.speaker_id for s in transcript.segments):
            return transcript
        try:
            if data is None:
                data = await platform.fetch_audio(note, self.settings.max_audio_bytes)
            segments = await self.speakers.name(data, list(transcript.segments), prints)
        except Exception:
            log.exception("naming the speakers of %s failed", note.idempotency_key)
            return transcript
        return transcript.model_copy(update={"segments": segments})

    async def _consume(self, request: TranscriptionRequest, live: LiveReply) -> Transcript:
        async for event in self.transcriber.stream(request):
            if isinstance(event, TextDeltaEvent):
                live.append(event.text)
            elif isinstance(event, SegmentEvent):
                live.reached(event.end)
            elif isinstance(event, DoneEvent):
                return event.transcript()
        raise StreamInterrupted("the transcription stream ended without a final transcript")


#: Bytes of a download's head read for the length its header declares (WebM and FLAC keep it there).
HEADER_BYTES = 64 * 1024
# Only containers whose header states the length: FFmpeg reads an Ogg's from its last page and bounds a
# WAV's by the file size, so a partial file would misstate both (measured: a 100 s WAV "lasted" 2 s).
_LENGTH_IN_HEADER = (b"\x1a\x45\xdf\xa3", b"fLaC")


class _Recorded:
    """The chunks of a download, passed on as they come and kept: a translation needs the bytes again.
    `on_length` gets the length the head's container declares, when it declares one (a progress bar)."""

    def __init__(self, chunks: AsyncIterator[bytes], on_length: Callable[[float | None], None] | None = None) -> None:
        self._chunks = chunks
        self._data = io.BytesIO()
        self._on_length = on_length

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._each()

    async def _each(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                self._data.write(chunk)
                if self._on_length is not None and self._data.tell() >= HEADER_BYTES:
                    await self._length()
                yield chunk
            if self._on_length is not None:
                await self._length()
        finally:
            await self._chunks.aclose()  # type: ignore[attr-defined]

    async def _length(self) -> None:
        report, self._on_length = self._on_length, None
        head = self._data.getvalue()
        if report is not None and head.startswith(_LENGTH_IN_HEADER):
            report(await asyncio.to_thread(declared_duration, head))

    @property
    def data(self) -> bytes:
        return self._data.getvalue()
