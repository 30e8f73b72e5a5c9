"""Speaker labels on real voices: per clip of tests/data/speakers/ (conversations joined from recordings of
seven real people, one to three voices, 11-60 s, with RTTM truth), whether the right number of speakers
was found, the share of speech time given to the right speaker, and how far found turns lie from the
real ones.

The product way is the main figure: `LocalTranscriber.complete()` with `diarize=True` and
`final_from_done=True` (as the bot asks), language detected, so the labels sit on faster-whisper's own
segments. The oracle way gives `Diarizer.assign` the true turns as segments: what the speaker model
does when the segments are right. The set was split before any diarization run by a fixed rule
(tests/data/speakers/manifest.json): held-out clips all contain voices never heard while tuning. Both
halves are reported apart; diarize.py is tuned on the tuning half only.

Scoring, at 10 ms frames over the truth's speech time: found speakers are mapped one to one to true
speakers to maximise the time they share (scipy's linear_sum_assignment); the share is the speech time
whose found speaker maps to its true speaker (speech left without a segment counts as wrong). A true turn
(a change of speaker) is found when a segment of the mapped speaker starts within TURN_WINDOW of it; its
offset is found start minus true start (negative: the label changed early).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.audio import ROOT
from bench.common import RESULTS_DIR, Report, fmt
from bot.models import Segment

SPEAKERS = ROOT / "tests" / "data" / "speakers"
SETS = ("tune", "heldout")
FPS = 100  # frames per second of the truth and the scoring
TURN_WINDOW = 3.0  # seconds either side of a true turn in which a found turn counts as that turn
# The bar, on held-out three-voice clips: every count right and this share of speech time.
TARGET_SHARE = 0.90


@dataclass
class Truth:
    name: str
    split: str
    voices: list[str]
    duration: float
    labels: np.ndarray  # one true speaker index per 10 ms frame, -1 where nobody speaks
    turns: list[tuple[float, int]]  # (start, speaker index) of every change of speaker
    segments: list[Segment]  # the true turns as Whisper-like segments (text where known)
    path: Path

    @property
    def speakers(self) -> int:
        return len(self.voices)


@dataclass
class Score:
    true: int
    found: int
    speech: float  # seconds of true speech
    correct: float  # seconds of it given to the right speaker
    offsets: list[float] = field(default_factory=list)  # found minus true start of each found turn
    missed_turns: int = 0
    extra_turns: int = 0

    @property
    def share(self) -> float:
        return self.correct / self.speech if self.speech else float("nan")


def load_set(names: list[str] | None = None) -> list[Truth]:
    manifest = json.loads((SPEAKERS / "manifest.json").read_text())
    out = []
    for clip in manifest["clips"]:
        if names is not None and clip["name"] not in names:
            continue
        out.append(load_truth(clip))
    return out


def load_truth(clip: dict) -> Truth:
    voices = list(clip["voices"])
    n = int(np.ceil(clip["duration"] * FPS)) + 1
    labels = np.full(n, -1, dtype=np.int64)
    for line in (SPEAKERS / clip["rttm"]).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        start, dur, who = float(parts[3]), float(parts[4]), parts[7]
        labels[int(round(start * FPS)) : int(round((start + dur) * FPS))] = voices.index(who)
    raw = json.loads((SPEAKERS / clip["turns"]).read_text())["turns"]
    turns = []
    for prev, turn in zip([None, *raw], raw, strict=False):
        if prev is not None and prev["speaker"] != turn["speaker"]:
            turns.append((float(turn["start"]), voices.index(turn["speaker"])))
    segments = [Segment(text=" " + (t["text"] or " ".join(t["prompts"])), start=t["start"], end=t["end"])
                for t in raw]
    return Truth(clip["name"], clip["split"], voices, float(clip["duration"]), labels, turns, segments,
                 SPEAKERS / clip["file"])


def score(truth: Truth, segments: list[Segment]) -> Score:
    from scipy.optimize import linear_sum_assignment

    ids = list(dict.fromkeys(s.speaker_id or "" for s in segments))
    found = np.full(len(truth.labels), -1, dtype=np.int64)
    for s in sorted(segments, key=lambda s: s.start):
        a, b = int(round(s.start * FPS)), int(round(s.end * FPS))
        found[max(0, a) : max(0, min(len(found), b))] = ids.index(s.speaker_id or "")
    speech = truth.labels >= 0
    overlap = np.zeros((truth.speakers, max(1, len(ids))), dtype=np.int64)
    both = speech & (found >= 0)
    np.add.at(overlap, (truth.labels[both], found[both]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    to_true = {int(c): int(r) for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0}
    result = Score(truth.speakers, len(ids), speech.sum() / FPS, overlap[rows, cols].sum() / FPS)

    # Found turns: where the (mapped) speaker of consecutive segments changes.
    changes: list[tuple[float, int]] = []
    prev = None
    for s in sorted(segments, key=lambda s: s.start):
        who = to_true.get(ids.index(s.speaker_id or ""), -1)
        if prev is not None and who != prev:
            changes.append((s.start, who))
        prev = who
    used: set[int] = set()
    for start, who in truth.turns:
        near = [(abs(t - start), i) for i, (t, w) in enumerate(changes)
                if w == who and i not in used and abs(t - start) <= TURN_WINDOW]
        if not near:
            result.missed_turns += 1
            continue
        _, i = min(near)
        used.add(i)
        result.offsets.append(round(changes[i][0] - start, 2))
    result.extra_turns = len(changes) - len(used)
    return result


def oracle(diarizer: object, truth: Truth, samples: np.ndarray) -> list[Segment]:
    return diarizer.assign(samples, truth.segments)  # type: ignore[attr-defined]


async def product(engine: object, truth: Truth) -> list[Segment]:
    from bot.models import TranscriptionRequest

    request = TranscriptionRequest(file=truth.path.read_bytes(), filename=truth.path.name, diarize=True,
                                   final_from_done=True)
    return list((await engine.complete(request)).segments)  # type: ignore[attr-defined]


def kind(truth: Truth) -> str:
    return f"{truth.speakers} voice{'s' if truth.speakers > 1 else ''}"


def summary(rows: list[tuple[Truth, Score]]) -> dict[str, float]:
    offsets = [abs(o) for _, s in rows for o in s.offsets]
    turns = sum(len(t.turns) for t, _ in rows)
    return {
        "clips": len(rows),
        "count errors": sum(s.found != s.true for _, s in rows),
        "share": sum(s.correct for _, s in rows) / max(1e-9, sum(s.speech for _, s in rows)),
        "worst share": min((s.share for _, s in rows), default=float("nan")),
        "median offset": statistics.median(offsets) if offsets else float("nan"),
        "turns": turns,
        "turns found": sum(len(s.offsets) for _, s in rows),
        "turns within 0.5 s": sum(abs(o) <= 0.5 for _, s in rows for o in s.offsets),
        "extra turns": sum(s.extra_turns for _, s in rows),
    }


def seconds(x: float) -> str:
    return "n/a" if x != x else f"{fmt(x)} s"


def set_table(results: dict[str, list[tuple[Truth, Score]]]) -> str:
    lines = ["| way | set | voices | clips | count errors | speech time to the right speaker (worst clip) | "
             "turns found | within 0.5 s | median offset | extra turns |", "|" + "---|" * 10]
    for way, rows in results.items():
        for split in SETS:
            for k in ("3 voices", "2 voices", "1 voice", "all"):
                subset = [(t, s) for t, s in rows if t.split == split and (k == "all" or kind(t) == k)]
                if not subset:
                    continue
                m = summary(subset)
                lines.append(f"| {way} | {split} | {k} | {m['clips']} | {m['count errors']} | "
                             f"{m['share']:.1%} ({m['worst share']:.1%}) | {m['turns found']}/{m['turns']} | "
                             f"{m['turns within 0.5 s']} | {seconds(m['median offset'])} | {m['extra turns']} |")
    return "\n".join(lines)


def clip_table(results: dict[str, list[tuple[Truth, Score]]]) -> str:
    lines = ["| way | set | clip | s | true | found | share | turns found | offsets (s) |", "|" + "---|" * 9]
    for way, rows in results.items():
        for t, s in rows:
            lines.append(f"| {way} | {t.split} | {t.name} | {t.duration:.0f} | {s.true} | {s.found} | "
                         f"{s.share:.1%} | {len(s.offsets)}/{len(t.turns)} | "
                         f"{' '.join(f'{o:+.2f}' for o in s.offsets)} |")
    return "\n".join(lines)


async def run(quick: bool, ways: tuple[str, ...], sets: tuple[str, ...] = SETS) -> Report:
    from bot.config import Settings
    from bot.engine.audio import decode_audio_bytes
    from bot.engine.diarize import Diarizer
    from bot.engine.local import LocalTranscriber

    report = Report("diarization")
    clips = [c for c in load_set() if c.split in sets]
    if quick:
        # A smoke run: the shortest three-voice clip of each half.
        clips = [min((c for c in clips if c.split == s and c.speakers == 3), key=lambda c: c.duration) for s in sets]
    results: dict[str, list[tuple[Truth, Score]]] = {}
    seconds: dict[str, float] = {}
    if "oracle" in ways:
        diarizer = Diarizer.load()
        rows = []
        t0 = time.perf_counter()
        for truth in clips:
            samples = decode_audio_bytes(truth.path.read_bytes(), max_bytes=1 << 30, max_seconds=1e9).samples
            rows.append((truth, score(truth, await asyncio.to_thread(oracle, diarizer, truth, samples))))
        seconds["oracle"] = time.perf_counter() - t0
        results["oracle"] = rows
    if "product" in ways:
        engine = LocalTranscriber.from_settings(Settings(model="base", _env_file=None))
        await engine.warm()
        engine.speaker_model()
        rows = []
        t0 = time.perf_counter()
        for truth in clips:
            rows.append((truth, score(truth, await product(engine, truth))))
        seconds["product"] = time.perf_counter() - t0
        await engine.aclose()
        results = {"product": rows, **results}
    for way, rows in results.items():
        for split in SETS:
            for label, subset in (("3 voices", [r for r in rows if r[0].split == split and r[0].speakers == 3]),
                                  ("all", [r for r in rows if r[0].split == split])):
                if not subset:
                    continue
                m = summary(subset)
                name = f"{way}, {split}, {label} ({m['clips']} clips)"
                report.add(f"{name}: speaker-count errors", m["count errors"], "clips", None, "0")
                report.add(f"{name}: speech time to the right speaker", m["share"], "",
                           None, f">= {TARGET_SHARE:.2f}" if label == "3 voices" else "")
                if m["turns found"]:  # no NaN in the results: a half whose turns were all missed has no offset
                    report.add(f"{name}: median |turn offset|", m["median offset"], "s")
                report.add(f"{name}: true turns found", m["turns found"] / max(1, m["turns"]), "")
    total = sum(t.duration for t in clips)
    report.notes.append(
        f"real voices, tests/data/speakers/ ({len(clips)} clips, {total:.0f} s; tune and heldout fixed before any "
        "diarization run, heldout clips contain voices never heard while tuning); product = LocalTranscriber "
        "diarize=True final_from_done=True (Whisper base's segments, language detected); oracle = the true turns "
        "as segments; share = speech time whose found speaker maps (one to one) to its true speaker, 10 ms frames; "
        f"offset = found minus true turn start; wall time: "
        + ", ".join(f"{w} {s:.0f} s" for w, s in seconds.items())
    )
    text = ("# Speaker labels on real voices (python -m bench.diarization)\n\n" + set_table(results) + "\n\n"
            + clip_table(results) + "\n")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "diarization.md").write_text(text)
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--way", choices=("product", "oracle"), action="append",
                        help="only this way of getting segments (default: both)")
    parser.add_argument("--set", choices=SETS, action="append", dest="sets",
                        help="only this half (default: both); tune diarize.py on the tuning half only")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.quick, tuple(args.way or ("product", "oracle")), tuple(args.sets or SETS)))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
    print()
    print((RESULTS_DIR / "diarization.md").read_text())
