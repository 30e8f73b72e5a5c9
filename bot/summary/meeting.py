"""One meeting from one or more transcripts: segments on a single clock, speaker turns, talk time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.models import Transcript
from bot.render import speaker_label
from bot.summary.models import SpeakerTime

UNKNOWN_SPEAKER = "Unknown speaker"


@dataclass
class Utterance:
    """One segment placed on the meeting's clock (seconds from the start of the first transcript)."""

    speaker: str | None
    start: float
    end: float
    text: str


@dataclass
class Turn:
    """Consecutive utterances of one speaker."""

    speaker: str | None
    start: float
    end: float
    text: str
    # (character offset in `text`, meeting time) where each utterance begins, to time sentences.
    marks: list[tuple[int, float]] = field(default_factory=list)

    @property
    def line(self) -> str:
        return f"{self.speaker}: {self.text}" if self.speaker else self.text


@dataclass
class Meeting:
    utterances: list[Utterance]
    duration: float

    @classmethod
    def from_transcripts(
        cls, transcripts: Sequence[Transcript], authors: Sequence[str | None] | None = None
    ) -> Meeting:
        """Concatenate in order, each transcript starting where the previous one ended.

        `authors[i]` labels the segments of transcript i that carry no speaker id (a thread of voice notes
        from different people is still a conversation)."""
        utterances: list[Utterance] = []
        offset = 0.0
        for i, transcript in enumerate(transcripts):
            author = authors[i] if authors is not None and i < len(authors) else None
            segments = [s for s in transcript.segments if s.text.strip()]
            if segments:
                for seg in segments:
                    speaker = speaker_label(seg.speaker_id) if seg.speaker_id else author
                    start, end = offset + seg.start, offset + max(seg.end, seg.start)
                    utterances.append(Utterance(speaker, start, end, " ".join(seg.text.split())))
            elif transcript.text.strip():
                # No timings: the whole text is one utterance spanning the note.
                utterances.append(
                    Utterance(author, offset, offset + transcript.duration, " ".join(transcript.text.split()))
                )
            offset += max(transcript.duration, max((s.end for s in segments), default=0.0))
        return cls(utterances, offset)

    def turns(self) -> list[Turn]:
        out: list[Turn] = []
        for u in self.utterances:
            if out and out[-1].speaker == u.speaker:
                out[-1].marks.append((len(out[-1].text) + 1, u.start))
                out[-1].text += " " + u.text
                out[-1].end = max(out[-1].end, u.end)
            else:
                out.append(Turn(u.speaker, u.start, u.end, u.text, [(0, u.start)]))
        return out

    def lines(self) -> list[str]:
        """Speaker-labelled lines ("Speaker 1: ..."), in order: what an LLM reads."""
        return [t.line for t in self.turns()]

    @property
    def has_speakers(self) -> bool:
        return any(u.speaker for u in self.utterances)

    def speaking_time(self) -> list[SpeakerTime]:
        """Talk time per speaker from segment timings, largest first; empty when nobody is labelled."""
        if not self.has_speakers:
            return []
        intervals: dict[str, list[tuple[float, float]]] = {}
        for u in self.utterances:
            intervals.setdefault(u.speaker or UNKNOWN_SPEAKER, []).append((u.start, u.end))
        seconds = {speaker: _covered(spans) for speaker, spans in intervals.items()}
        total = sum(seconds.values())
        return sorted(
            (SpeakerTime(speaker=s, seconds=round(v, 2), share=(v / total if total else 0.0)) for s, v in seconds.items()),
            key=lambda t: (-t.seconds, t.speaker),
        )


def _covered(spans: list[tuple[float, float]]) -> float:
    """Length of the union of intervals, so overlapping segments of one speaker are not counted twice."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total
