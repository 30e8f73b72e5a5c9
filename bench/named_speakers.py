"""Named speakers on real voices: voices enrolled from recordings no clip uses (tests/data/speakers/enrol/),
then, on every multi-speaker clip of tests/data/speakers/, how much of each enrolled person's speech time
carries their name, and how much speech time of anyone carries a name that is not theirs (an unenrolled
voice named, or one enrolled person called by another's name). Tuning and held-out halves are reported
apart; NAME_MIN_SIMILARITY (bot/engine/speaker_names.py) is never tuned on the held-out half.

The oracle way (the default, seconds): the true turns as segments, `Diarizer.assign` labels them, and
`name_speakers` names the labels as the engine does. The product way (`--way product`, minutes) runs the
local engine with diarize=True and the enrolled voiceprints, as the bot does for a diarized note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np

from bench.common import Report
from bench.diarization import FPS, SETS, SPEAKERS, Truth, load_set
from bot.models import Segment

ENROL = SPEAKERS / "enrol"
TARGET_NAMED = 0.90


@dataclass
class Naming:
    """Seconds of speech per true voice: all of it, named right, named wrongly (another person's name)."""

    speech: dict[str, float]
    right: dict[str, float]
    wrong: dict[str, float]


def enrolled_voices() -> list[str]:
    return list(json.loads((ENROL / "manifest.json").read_text())["enrolled"])


def enrolment_prints(diarizer: object) -> dict[str, np.ndarray]:
    """Each enrolled voice's print, made from its enrolment note as the bot makes it."""
    from bot.engine.audio import decode_audio_bytes

    prints = {}
    for voice in enrolled_voices():
        audio = decode_audio_bytes((ENROL / f"{voice}.ogg").read_bytes(), max_bytes=1 << 26, max_seconds=600)
        vector = diarizer.voiceprint(audio.samples)  # type: ignore[attr-defined]
        assert vector is not None, voice
        prints[voice] = vector
    return prints


def naming(truth: Truth, segments: list[Segment], enrolled: set[str]) -> Naming:
    """10 ms frames of true speech: the name the found segment gives it against the true voice."""
    found = np.full(len(truth.labels), "", dtype=object)
    for s in sorted(segments, key=lambda s: s.start):
        a, b = int(round(s.start * FPS)), int(round(s.end * FPS))
        found[max(0, a): max(0, min(len(found), b))] = s.speaker_id or ""
    out = Naming({}, {}, {})
    for index, voice in enumerate(truth.voices):
        mine = truth.labels == index
        labels = found[mine]
        out.speech[voice] = mine.sum() / FPS
        out.right[voice] = float((labels == voice).sum()) / FPS
        named_other = np.array([lab in enrolled and lab != voice for lab in labels], dtype=bool)
        out.wrong[voice] = float(named_other.sum()) / FPS
    return out


def oracle_segments(diarizer: object, prints: dict[str, np.ndarray], truth: Truth, samples: np.ndarray) -> list[Segment]:
    from bot.engine.speaker_names import name_speakers

    labelled = diarizer.assign(samples, truth.segments)  # type: ignore[attr-defined]
    return name_speakers(diarizer, samples, labelled, prints)  # type: ignore[arg-type]


@dataclass
class HalfResult:
    split: str
    named: dict[str, float]  # enrolled voice -> share of its speech time named right
    wrong_enrolled: float  # seconds of an enrolled voice's speech under another person's name
    wrong_unenrolled: float  # seconds of an unenrolled voice's speech under an enrolled name
    unenrolled_speech: float

    @property
    def overall(self) -> float:
        return min(self.named.values()) if self.named else 0.0


def tally(split: str, rows: list[Naming], enrolled: set[str]) -> HalfResult:
    speech: dict[str, float] = {}
    right: dict[str, float] = {}
    wrong_e = wrong_u = unenrolled = 0.0
    for row in rows:
        for voice, seconds in row.speech.items():
            if voice in enrolled:
                speech[voice] = speech.get(voice, 0.0) + seconds
                right[voice] = right.get(voice, 0.0) + row.right[voice]
                wrong_e += row.wrong[voice]
            else:
                unenrolled += seconds
                wrong_u += row.wrong[voice]
    return HalfResult(split, {v: right[v] / speech[v] for v in speech if speech[v] > 0}, wrong_e, wrong_u,
                      unenrolled)


async def measure(way: str = "oracle", sets: tuple[str, ...] = SETS, quick: bool = False) -> list[HalfResult]:
    from bot.engine.audio import decode_audio_bytes
    from bot.engine.diarize import Diarizer

    diarizer = Diarizer.load()
    prints = enrolment_prints(diarizer)
    enrolled = set(prints)
    clips = [c for c in load_set() if c.split in sets and c.speakers > 1]
    if quick:  # a smoke run: the shortest three-voice clip of each half
        clips = [min((c for c in clips if c.split == s and c.speakers == 3), key=lambda c: c.duration) for s in sets]
    results = []
    engine = None
    if way == "product":
        from bot.config import Settings
        from bot.engine.local import LocalTranscriber

        engine = LocalTranscriber.from_settings(Settings(model="base", _env_file=None))
    for split in sets:
        rows = []
        for truth in [c for c in clips if c.split == split]:
            if engine is None:
                samples = decode_audio_bytes(truth.path.read_bytes(), max_bytes=1 << 30, max_seconds=1e9).samples
                segments = await asyncio.to_thread(oracle_segments, diarizer, prints, truth, samples)
            else:
                from bot.models import TranscriptionRequest

                request = TranscriptionRequest(
                    file=truth.path.read_bytes(), filename=truth.path.name, diarize=True, final_from_done=True,
                    speaker_prints={k: v.tolist() for k, v in prints.items()})
                segments = list((await engine.complete(request)).segments)
            rows.append(naming(truth, segments, enrolled))
        results.append(tally(split, rows, enrolled))
    if engine is not None:
        await engine.aclose()
    return results


def run(way: str, sets: tuple[str, ...], quick: bool = False) -> Report:
    report = Report("named_speakers")
    t0 = time.perf_counter()
    results = asyncio.run(measure(way, sets, quick))
    for half in results:
        for voice, share in sorted(half.named.items()):
            report.add(f"{way}, {half.split}: {voice}'s speech time named {voice}", share, "", None,
                       f">= {TARGET_NAMED:.2f}")
        report.add(f"{way}, {half.split}: enrolled speech under another's name", half.wrong_enrolled, "s", None, "0")
        report.add(f"{way}, {half.split}: unenrolled speech ({half.unenrolled_speech:.0f} s) under an enrolled name",
                   half.wrong_unenrolled, "s", None, "0")
    report.notes.append(f"enrolled: {', '.join(enrolled_voices())} from tests/data/speakers/enrol/ (prompts no clip "
                        f"uses); multi-speaker clips only; wall {time.perf_counter() - t0:.0f} s")
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--way", choices=("oracle", "product"), default="oracle")
    parser.add_argument("--set", choices=SETS, action="append", dest="sets")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.way, tuple(args.sets or SETS), args.quick)
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
