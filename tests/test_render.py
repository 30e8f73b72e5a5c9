"""Final transcript rendering: speakers, timestamps, splitting at the platform's limit, files."""

from bot.models import ChannelSettings, Segment, Transcript
from bot.render import format_timestamp, render_final, split_message, to_srt, to_vtt, transcript_text


def meeting(n: int = 3) -> Transcript:
    segs = []
    for i in range(n):
        speaker = f"speaker_{i % 2 + 1}"
        segs.append(Segment(text=f" Sentence number {i} is here.", start=i * 2.0, end=i * 2.0 + 1.5, speaker_id=speaker))
    return Transcript(text="".join(s.text for s in segs).strip(), segments=segs)


def test_timestamps():
    assert format_timestamp(65.4) == "1:05"
    assert format_timestamp(3725) == "1:02:05"
    assert format_timestamp(1.5, srt=True) == "00:00:01,500"
    assert format_timestamp(1.5, vtt=True) == "00:00:01.500"


def test_plain_and_speakers_and_timestamps():
    t = meeting(3)
    assert transcript_text(t, ChannelSettings()) == t.text
    text = transcript_text(t, ChannelSettings(diarize=True, timestamps=True), bold="*{}*")
    lines = text.splitlines()
    assert lines[0] == "`0:00` *Speaker 1*: Sentence number 0 is here."
    assert lines[1].startswith("`0:02` *Speaker 2*:")


def test_same_speaker_segments_merge():
    segs = [Segment(text="a.", start=0, end=1, speaker_id="speaker_1"),
            Segment(text="b.", start=1, end=2, speaker_id="speaker_1"),
            Segment(text="c.", start=2, end=3, speaker_id="speaker_2")]
    text = transcript_text(Transcript(text="a. b. c.", segments=segs), ChannelSettings(diarize=True))
    assert text == "**Speaker 1**: a. b.\n**Speaker 2**: c."


def test_split_respects_limit_and_keeps_words():
    text = " ".join(f"Word{i}." for i in range(400))
    chunks = split_message(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunks[0].endswith(".")
    assert split_message("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_render_short_long_and_very_long():
    s = ChannelSettings()
    short = render_final(meeting(2), s, 2000)
    assert len(short.messages) == 1 and not short.files
    medium = render_final(meeting(60), s, 800)
    assert 1 < len(medium.messages) <= 3 and all(len(m) <= 800 for m in medium.messages)
    assert [f for f, _ in medium.files] == ["transcript.txt", "transcript.srt"]
    huge = render_final(meeting(400), s, 800)
    assert len(huge.messages) == 1 and len(huge.messages[0]) <= 800
    assert "attached" in huge.messages[0]
    assert huge.files[0][1].decode().count("Sentence number") == 400


def test_empty_transcript_says_so():
    assert render_final(Transcript(text=""), ChannelSettings(), 100).messages == ["(no speech detected)"]


def test_srt_and_vtt():
    srt = to_srt(meeting(2), diarize=True)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nSpeaker 1: Sentence number 0 is here.\n")
    assert "\n2\n00:00:02,000 --> 00:00:03,500\nSpeaker 2:" in srt
    assert to_vtt(meeting(1)).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nSentence number 0")
