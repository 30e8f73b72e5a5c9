"""Offline diarization on synthetic flite dialogues whose speaker timeline is known."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.engine.audio import encode_wav
from bot.engine.diarize import Diarizer
from bot.models import Segment, TranscriptionRequest
from tests.fixtures.speakers import SAMPLE_RATE, Dialogue, attribution_accuracy

ROOT = Path(__file__).resolve().parents[1]


def speakers(segments: list[Segment]) -> list[str]:
    """Speaker ids in order of first appearance."""
    return list(dict.fromkeys(s.speaker_id or "" for s in segments))


def test_two_speakers_taking_turns(diarizer: Diarizer, dialogue_two: Dialogue) -> None:
    out = diarizer.assign(dialogue_two.samples, dialogue_two.sentence_segments())
    assert attribution_accuracy(dialogue_two, out) >= 0.9
    assert speakers(out) == ["speaker_1", "speaker_2"]
    assert [s.text for s in out] == [u.text for u in dialogue_two.utterances]


def test_three_speakers_taking_turns(diarizer: Diarizer, dialogue_three: Dialogue) -> None:
    out = diarizer.assign(dialogue_three.samples, dialogue_three.sentence_segments())
    assert attribution_accuracy(dialogue_three, out) >= 0.9
    assert speakers(out) == ["speaker_1", "speaker_2", "speaker_3"]


def test_one_voice_is_one_speaker(diarizer: Diarizer, monologue: Dialogue) -> None:
    out = diarizer.assign(monologue.samples, monologue.sentence_segments())
    assert {s.speaker_id for s in out} == {"speaker_1"}
    out = diarizer.assign(monologue.samples, monologue.merged_segments(3))
    assert {s.speaker_id for s in out} == {"speaker_1"}
    assert len(out) == len(monologue.merged_segments(3))


def test_segment_spanning_a_turn_is_split(diarizer: Diarizer, dialogue_three: Dialogue) -> None:
    merged = dialogue_three.merged_segments(2)
    out = diarizer.assign(dialogue_three.samples, merged)
    assert attribution_accuracy(dialogue_three, out) >= 0.9
    assert len(out) > len(merged)
    # Every word survives the split, in order, and the pieces stay inside their segment's times.
    assert " ".join(s.text for s in out).split() == " ".join(s.text for s in merged).split()
    assert all(a.end <= b.start + 1e-6 for a, b in zip(out, out[1:], strict=False))
    # A piece starts with one of the original sentences: the cut fell between sentences.
    sentences = {u.text for u in dialogue_three.utterances}
    assert all(any(s.text.startswith(t) for t in sentences) for s in out)


def test_whole_dialogue_as_one_segment(diarizer: Diarizer, dialogue_two: Dialogue) -> None:
    """Whisper can hand over one long segment; the turns inside it are still found."""
    whole = Segment(
        text=" ".join(u.text for u in dialogue_two.utterances),
        start=dialogue_two.utterances[0].start,
        end=dialogue_two.utterances[-1].end,
    )
    out = diarizer.assign(dialogue_two.samples, [whole])
    assert attribution_accuracy(dialogue_two, out) >= 0.9
    assert speakers(out) == ["speaker_1", "speaker_2"]


def test_int16_audio_at_another_rate(diarizer: Diarizer, dialogue_two: Dialogue) -> None:
    from scipy.signal import resample_poly

    pcm = (resample_poly(dialogue_two.samples, 3, 1) * 32767).astype(np.int16)
    out = diarizer.assign(pcm, dialogue_two.sentence_segments(), sample_rate=48000)
    assert attribution_accuracy(dialogue_two, out) >= 0.9


def test_quiet_noisy_recording(diarizer: Diarizer, dialogue_three: Dialogue, monologue: Dialogue) -> None:
    """The encoder reads power mel bands: a quiet, hissing recording must still give the same answer."""
    rng = np.random.default_rng(7)

    def degrade(d: Dialogue) -> np.ndarray:
        quiet = d.samples * 0.05
        speech_power = np.mean(quiet[np.abs(quiet) > 0.0005] ** 2)
        hiss = rng.standard_normal(len(quiet)).astype(np.float32) * np.sqrt(speech_power / 100)  # 20 dB SNR
        return quiet + hiss

    out = diarizer.assign(degrade(dialogue_three), dialogue_three.sentence_segments())
    assert attribution_accuracy(dialogue_three, out) >= 0.9
    assert len(speakers(out)) == 3
    out = diarizer.assign(degrade(monologue), monologue.sentence_segments())
    assert speakers(out) == ["speaker_1"]


def test_edge_cases(diarizer: Diarizer) -> None:
    assert diarizer.assign(np.zeros(SAMPLE_RATE, np.float32), []) == []
    silent = diarizer.assign(np.zeros(3 * SAMPLE_RATE, np.float32), [Segment(text="hm", start=0.5, end=2.0)])
    assert [s.speaker_id for s in silent] == ["speaker_1"]
    beyond = [Segment(text="a", start=0, end=5), Segment(text="b", start=9, end=12)]
    tiny = diarizer.assign(np.zeros(100, np.float32), beyond)
    assert [s.speaker_id for s in tiny] == ["speaker_1", "speaker_1"]


@pytest.mark.slow
async def test_on_segments_from_the_local_engine(
    request: pytest.FixtureRequest, diarizer: Diarizer, dialogue_three: Dialogue
) -> None:
    """Whisper's own segments (times approximate, turns not always at a boundary) on three voices."""
    try:
        engine = request.getfixturevalue("local_engine")
    except pytest.FixtureLookupError:
        pytest.skip("the local_engine fixture is not available")
    transcript = await engine.complete(
        TranscriptionRequest(file=encode_wav(dialogue_three.samples), filename="dialogue.wav", language="en")
    )
    assert transcript.segments
    out = await asyncio.to_thread(diarizer.assign, dialogue_three.samples, transcript.segments)
    assert attribution_accuracy(dialogue_three, out) >= 0.9
    assert speakers(out) == ["speaker_1", "speaker_2", "speaker_3"]


# Run in a fresh interpreter where torch and resemblyzer cannot be imported (a None entry in
# sys.modules makes every import of them fail, however deep it hides), as on a base install.
WITHOUT_TORCH = """
import json, sys
sys.modules["torch"] = None
sys.modules["resemblyzer"] = None
from faster_whisper import decode_audio
from bot.engine.diarize import Diarizer
from bot.models import Segment
turns = json.load(open(sys.argv[2]))["turns"]
segments = [Segment(text=t["text"], start=t["start"], end=t["end"]) for t in turns]
out = Diarizer.load().assign(decode_audio(sys.argv[1], sampling_rate=16000), segments)
print(json.dumps([s.speaker_id for s in out]))
"""


def test_speaker_labels_without_torch() -> None:
    """tests/data/dialogue.ogg (three flite voices, five turns) labelled with torch unimportable."""
    data = ROOT / "tests" / "data"
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(data / "dialogue.ogg"), str(data / "dialogue.turns.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    truth = [t["speaker"] for t in json.loads((data / "dialogue.turns.json").read_text())["turns"]]
    assert json.loads(result.stdout.splitlines()[-1]) == truth
