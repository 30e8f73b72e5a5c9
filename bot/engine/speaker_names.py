"""Speakers called by their names: Mistral's `speaker_references` (a name -> a short recording of that
person) matched against the voices diarization found.

Each found speaker's voiceprint (the mean embedding of its turns) is compared with each reference's;
names go one to one (the best overall pairing, Hungarian) and only above NAME_MIN_SIMILARITY, so a
voice nobody enrolled keeps its `speaker_N` label rather than borrowing the nearest name."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from bot.engine.audio import decode_audio_bytes
from bot.engine.diarize import Diarizer
from bot.errors import BadSpeakerReference, VoxnoteError
from bot.models import Segment

log = logging.getLogger(__name__)

#: Cosine similarity of two voiceprints above which they are taken for one person. Resemblyzer's
#: embeddings scored 0.96 within a flite voice and 0.51-0.77 across voices, but real people are closer:
#: on the tuning half of tests/data/speakers/ (bench/named_speakers.py, voices enrolled from prompts no
#: clip uses) a person's turns scored 0.92-0.97 against their own enrolment and up to 0.87 against
#: someone else's (June against Allison), so 0.80 named an unenrolled voice; 0.90 sits between the two.
NAME_MIN_SIMILARITY = 0.90
#: A reference longer than this adds nothing to a voiceprint (and costs decoding time).
MAX_REFERENCE_SECONDS = 60.0
MAX_REFERENCE_BYTES = 8 * 1024 * 1024


def reference_prints(model: Diarizer, references: Mapping[str, bytes]) -> dict[str, np.ndarray]:
    """Voiceprints of the references; a reference that is no audio or holds no speech is refused by name."""
    prints: dict[str, np.ndarray] = {}
    for name, data in references.items():
        try:
            audio = decode_audio_bytes(data, max_bytes=MAX_REFERENCE_BYTES, max_seconds=MAX_REFERENCE_SECONDS)
        except VoxnoteError as exc:
            raise BadSpeakerReference(f"the reference for {name!r} is not usable audio: {exc}") from exc
        vector = model.voiceprint(audio.samples)
        if vector is None:
            raise BadSpeakerReference(f"the reference for {name!r} holds too little speech (a few seconds are needed)")
        prints[name] = vector
    return prints


def name_speakers(
    model: Diarizer, samples: np.ndarray, segments: list[Segment], prints: Mapping[str, np.ndarray]
) -> list[Segment]:
    """`segments` (labelled `speaker_N`) with each matched speaker renamed after its reference."""
    speakers = sorted({s.speaker_id for s in segments if s.speaker_id})
    if not speakers or not prints:
        return segments
    found: dict[str, np.ndarray] = {}
    for speaker in speakers:
        vector = model.voiceprint(samples, spans=[(s.start, s.end) for s in segments if s.speaker_id == speaker])
        if vector is not None:
            found[speaker] = vector
    if not found:
        return segments
    ids, names = list(found), list(prints)
    similarity = np.stack([found[i] for i in ids]) @ np.stack([prints[n] for n in names]).T
    rows, cols = linear_sum_assignment(-similarity)
    renamed = {
        ids[r]: names[c] for r, c in zip(rows, cols, strict=True) if similarity[r, c] >= NAME_MIN_SIMILARITY
    }
    log.debug("speaker similarities %s -> %s", np.round(similarity, 2).tolist(), renamed)
    return [s.model_copy(update={"speaker_id": renamed.get(s.speaker_id or "", s.speaker_id)}) for s in segments]
