"""Named speakers of a workspace: enrolling a voice (an admin asks, the speaker consents) and the voices a
diarized note is matched against.

A voiceprint is personal data, so nothing is stored until the person whose voice it is confirms: an
admin's request only computes the print and holds it in memory, for one person, until it expires.
Pending requests are not persisted on purpose: a restart drops them rather than keeping a voice nobody
agreed to. Platform-free: adapters post the request and pass the click back."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass

import numpy as np

from bot.commands import CommandContext
from bot.engine.audio import decode_audio_bytes
from bot.engine.diarize import Diarizer
from bot.errors import CommandError, NotAllowed, VoxnoteError
from bot.engine.speaker_names import name_speakers
from bot.models import AudioNote, Platform, Segment
from storage import Store, Voiceprint

log = logging.getLogger(__name__)

#: How long the named person has to confirm an enrolment request.
CONSENT_TTL_S = 15 * 60.0
#: The first minute of a note makes the voiceprint; more adds nothing (and costs time).
ENROL_MAX_SECONDS = 60.0
#: Requests held at once, so a flood of them cannot grow memory without bound.
MAX_PENDING = 200
MAX_NAME_CHARS = 40
# `Speaker 2` is what an unnamed voice is called: a person enrolled under it would be mistaken for one.
_RESERVED = re.compile(r"speaker[_ ]?\d+", re.IGNORECASE)
_MARKUP = re.compile(r"[<>*_~`|@#:\[\]]")


def check_name(name: str) -> str:
    """A speaker's name as it will appear in transcripts; refused when it would read as markup or as
    an unnamed speaker's label."""
    clean = " ".join(name.split())
    if not clean:
        raise CommandError("give the speaker's name, e.g. `Alice`")
    if len(clean) > MAX_NAME_CHARS:
        raise CommandError(f"a speaker's name is at most {MAX_NAME_CHARS} characters")
    if _RESERVED.fullmatch(clean):
        raise CommandError(f"`{clean}` is how unnamed speakers are labelled; choose the person's name")
    if _MARKUP.search(clean):
        raise CommandError("a speaker's name cannot hold markup or mentions (< > * _ ~ ` | @ # : [ ])")
    return clean


@dataclass
class PendingEnrolment:
    """A voice computed from a note, waiting for its owner's yes."""

    id: str
    voice: Voiceprint
    expires_at: float


class Speakers:
    """Enrolment requests and the workspace's known voices."""

    def __init__(self, store: Store, *, max_audio_bytes: int, ttl_s: float = CONSENT_TTL_S,
                 model: Diarizer | None = None) -> None:
        self.store = store
        self.max_audio_bytes = max_audio_bytes
        self.ttl_s = ttl_s
        self._model = model
        self._load_lock = asyncio.Lock()
        self._pending: dict[str, PendingEnrolment] = {}

    async def _voices(self) -> Diarizer:
        async with self._load_lock:
            if self._model is None:
                self._model = await asyncio.to_thread(Diarizer.load)
            return self._model

    async def voiceprint(self, data: bytes) -> list[float]:
        """The voiceprint of the one voice in `data` (decoding and embedding run in worker threads)."""
        model = await self._voices()

        def embed() -> np.ndarray | None:
            # The whole note must be decodable, but only its first minute is embedded.
            audio = decode_audio_bytes(data, max_bytes=self.max_audio_bytes, max_seconds=4 * 3600)
            return model.voiceprint(audio.samples[: int(ENROL_MAX_SECONDS * audio.sample_rate)], audio.sample_rate)

        try:
            vector = await asyncio.to_thread(embed)
        except VoxnoteError as exc:
            raise CommandError(f"that note cannot be enrolled: {exc}") from exc
        if vector is None:
            raise CommandError("that note holds too little speech to enrol a voice (a few seconds are needed)")
        return [float(v) for v in vector]

    async def request(self, ctx: CommandContext, note: AudioNote, data: bytes, *, name: str,
                      user_id: str) -> PendingEnrolment:
        """An admin asks to enrol `user_id`'s voice from `note` under `name`: computed now, kept only once
        that person confirms (`answer`). Refusals raise `NotAllowed` / `CommandError`."""
        if not ctx.is_admin:
            raise NotAllowed("only admins can enrol a voice here")
        name = check_name(name)
        if not user_id:
            raise CommandError("that note has no author to ask for consent")
        embedding = await self.voiceprint(data)
        self._expire()
        if len(self._pending) >= MAX_PENDING:
            raise CommandError("too many enrolment requests are waiting; try again later")
        voice = Voiceprint(platform=ctx.platform, workspace_id=ctx.workspace_id, name=name, embedding=embedding,
                           user_id=user_id, enrolled_by=ctx.user_id, consented_by="", channel_id=note.channel_id,
                           source_key=note.idempotency_key)
        pending = PendingEnrolment(secrets.token_urlsafe(12), voice, time.time() + self.ttl_s)
        self._pending[pending.id] = pending
        return pending

    def pending(self, request_id: str) -> PendingEnrolment | None:
        self._expire()
        return self._pending.get(request_id)

    async def answer(self, request_id: str, user_id: str, *, accept: bool) -> str:
        """The person clicked yes or no. Only the person whose voice it is may answer (anyone else raises
        `NotAllowed` and the request stays); an expired request stores nothing."""
        pending = self.pending(request_id)
        if pending is None:
            raise CommandError("this enrolment request has expired; an admin can ask again")
        if user_id != pending.voice.user_id:
            raise NotAllowed("only the person whose voice this is can answer this request")
        del self._pending[request_id]
        if not accept:
            return "Declined: the voice was not enrolled and nothing was kept."
        voice = pending.voice.model_copy(update={"consented_by": user_id})
        await self.store.add_voiceprint(voice)
        log.info("voice enrolled in %s/%s", voice.platform.value, voice.workspace_id)
        return f"Enrolled: transcripts with speaker labels in this workspace now name {voice.name}."

    def _expire(self) -> None:
        now = time.time()
        for key in [k for k, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[key]

    async def name(self, data: bytes, segments: list[Segment], prints: dict[str, list[float]]) -> list[Segment]:
        """`segments` (diarized by an engine that cannot take voiceprints) with matched speakers renamed,
        as the local engine names them; decoding and matching run in a worker thread."""
        if not prints or not any(s.speaker_id for s in segments):
            return segments
        model = await self._voices()
        vectors = {name: np.asarray(v, dtype=np.float32) for name, v in prints.items()}

        def match() -> list[Segment]:
            audio = decode_audio_bytes(data, max_bytes=self.max_audio_bytes, max_seconds=4 * 3600)
            return name_speakers(model, audio.samples, segments, vectors)

        return await asyncio.to_thread(match)

    async def prints(self, platform: Platform, workspace_id: str) -> dict[str, list[float]]:
        """The workspace's enrolled voices, name -> voiceprint (what a diarized note is matched against)."""
        return {v.name: v.embedding for v in await self.store.list_voiceprints(platform, workspace_id)}
