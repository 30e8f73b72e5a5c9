"""Turning a finished transcript into chat messages and files: speakers, timestamps, splitting."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.models import ChannelSettings, Segment, Transcript

# Beyond this many messages a transcript floods the thread: post the start and attach the whole.
MAX_MESSAGES = 3
NO_SPEECH = "(no speech detected)"


def format_timestamp(seconds: float, *, srt: bool = False, vtt: bool = False) -> str:
    ms_total = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if srt:
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"
    if vtt:
        return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def speaker_label(speaker_id: str) -> str:
    """`speaker_1` -> `Speaker 1`; names set by users pass through."""
    match = re.fullmatch(r"speaker[_ ]?(\d+)", speaker_id, re.IGNORECASE)
    return f"Speaker {int(match.group(1))}" if match else speaker_id


@dataclass
class Paragraph:
    start: float
    end: float
    speaker: str | None
    text: str


def paragraphs(transcript: Transcript, diarize: bool) -> list[Paragraph]:
    """Consecutive segments of one speaker become one paragraph (one per segment without diarization)."""
    out: list[Paragraph] = []
    for seg in transcript.segments:
        text = seg.text.strip()
        if not text:
            continue
        speaker = seg.speaker_id if diarize else None
        if out and diarize and speaker is not None and out[-1].speaker == speaker:
            out[-1].text += " " + text
            out[-1].end = seg.end
        else:
            out.append(Paragraph(seg.start, seg.end, speaker, text))
    return out


def transcript_text(transcript: Transcript, settings: ChannelSettings, bold: str = "**{}**") -> str:
    """The transcript as chat text: plain prose, or one line per turn with speakers and/or timestamps."""
    paras = paragraphs(transcript, settings.diarize)
    if not paras:
        return transcript.text.strip() or NO_SPEECH
    has_speakers = settings.diarize and any(p.speaker for p in paras)
    if not has_speakers and not settings.timestamps:
        return transcript.text.strip() or " ".join(p.text for p in paras)
    lines = []
    for p in paras:
        prefix = ""
        if settings.timestamps:
            prefix += f"`{format_timestamp(p.start)}` "
        if has_speakers and p.speaker:
            prefix += bold.format(speaker_label(p.speaker)) + ": "
        lines.append(prefix + p.text)
    return "\n".join(lines)


def split_message(text: str, limit: int) -> list[str]:
    """Split at the most natural boundary that fits: paragraph, line, sentence, word, then hard."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", ". ", "? ", "! ", " "):
            pos = window.rfind(sep, 0, limit)
            if pos > limit // 3:
                # Keep a sentence's closing mark with it; whitespace separators are dropped.
                cut = pos + 1 if sep.strip() else pos
                break
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks or [""]


@dataclass
class RenderedTranscript:
    messages: list[str]
    files: list[tuple[str, bytes]] = field(default_factory=list)


def render_final(
    transcript: Transcript, settings: ChannelSettings, max_chars: int, bold: str = "**{}**", header: str = ""
) -> RenderedTranscript:
    """Messages for the thread (first one replaces the live reply) and files to attach when long."""
    body = transcript_text(transcript, settings, bold)
    first_room = max_chars - len(header) - 1 if header else max_chars
    chunks = split_message(body, min(first_room, max_chars))
    if len(chunks) <= 1:
        text = f"{header}\n{chunks[0]}" if header else chunks[0]
        return RenderedTranscript([text])
    files = [("transcript.txt", to_text(transcript, settings).encode())]
    if transcript.segments:
        files.append(("transcript.srt", to_srt(transcript, settings.diarize).encode()))
    if len(chunks) > MAX_MESSAGES:
        note = "\n_(continued in the attached transcript.txt)_"
        first = split_message(body, min(first_room, max_chars) - len(note))[0] + note
        return RenderedTranscript([f"{header}\n{first}" if header else first], files)
    chunks[0] = f"{header}\n{chunks[0]}" if header else chunks[0]
    return RenderedTranscript(chunks, files)


def to_text(transcript: Transcript, settings: ChannelSettings) -> str:
    """Plain-text file: like the chat text but without chat markup."""
    return transcript_text(transcript, settings, bold="{}").replace("`", "") + "\n"


def _cue_text(seg: Segment, diarize: bool) -> str:
    text = seg.text.strip()
    if diarize and seg.speaker_id:
        return f"{speaker_label(seg.speaker_id)}: {text}"
    return text


def to_srt(transcript: Transcript, diarize: bool = False) -> str:
    cues = []
    for i, seg in enumerate((s for s in transcript.segments if s.text.strip()), start=1):
        cues.append(
            f"{i}\n{format_timestamp(seg.start, srt=True)} --> {format_timestamp(seg.end, srt=True)}\n"
            f"{_cue_text(seg, diarize)}\n"
        )
    return "\n".join(cues)


def to_vtt(transcript: Transcript, diarize: bool = False) -> str:
    cues = ["WEBVTT\n"]
    for seg in transcript.segments:
        if seg.text.strip():
            cues.append(
                f"{format_timestamp(seg.start, vtt=True)} --> {format_timestamp(seg.end, vtt=True)}\n"
                f"{_cue_text(seg, diarize)}\n"
            )
    return "\n".join(cues)
