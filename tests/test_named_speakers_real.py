"""Named speakers on real voices (issue 19): five people enrolled from recordings no clip uses
(tests/data/speakers/enrol/, built by tests/data/speakers_enrol_build.py), June and JFK left unenrolled,
then every multi-speaker clip of tests/data/speakers/ labelled (true turns as segments, as
bench/named_speakers.py's oracle way) and named as the engine names them.

The tuning half set NAME_MIN_SIMILARITY; the held-out half was run once, after, and is reported."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.diarization import SPEAKERS
from bench.named_speakers import ENROL, TARGET_NAMED, HalfResult, measure

MANIFEST = json.loads((SPEAKERS / "manifest.json").read_text())
ENROLMENT = json.loads((ENROL / "manifest.json").read_text())
# Measured once, after the threshold was fixed on the tuning half: on heldout-3v-05 the diarizer
# lumps all three voices into one speaker and that lump is named ivrvoice_ru (12 s of June named so);
# on heldout-3v-06 armelle's cluster swallows 9 s of ivrvoice_ru; paola got 0.87 of her time.
HELD_OUT_MEASURED = "paola 0.869, ivrvoice_ru 0.906, others >= 0.999; 12.2 s of 86 s unenrolled speech named"


def test_enrolment_recordings_are_not_in_any_clip() -> None:
    """Naming is measured on speech the voiceprints never heard: no enrolment prompt is in a clip."""
    used: dict[str, set[str]] = {}
    for turns in SPEAKERS.glob("*.turns.json"):
        for turn in json.loads(turns.read_text())["turns"]:
            used.setdefault(turn["speaker"], set()).update(turn["prompts"])
    for voice, entry in ENROLMENT["enrolled"].items():
        assert entry["prompts"] and not set(entry["prompts"]) & used[voice], voice
        assert (ENROL / f"{voice}.ogg").is_file()
    # Each half keeps an unenrolled voice in its clips: the "never a wrong name" check has something to check.
    for split in ("tune", "heldout"):
        voices = {v for c in MANIFEST["clips"] if c["split"] == split and c["speakers"] > 1 for v in c["voices"]}
        assert voices & set(ENROLMENT["unenrolled"]), split


@pytest.fixture(scope="module")
def results() -> dict[str, HalfResult]:
    return {r.split: r for r in asyncio.run(measure("oracle"))}


def test_tuning_half_names_each_enrolled_speaker_and_never_an_unenrolled_one(results) -> None:
    tune = results["tune"]
    assert set(tune.named) == {"armelle", "carlo", "paola"}
    assert all(share >= TARGET_NAMED for share in tune.named.values()), tune.named
    assert tune.unenrolled_speech > 60 and tune.wrong_unenrolled == 0.0


@pytest.mark.xfail(strict=False, reason=f"held-out, measured once: {HELD_OUT_MEASURED}")
def test_held_out_half_names_each_enrolled_speaker(results) -> None:
    held = results["heldout"]
    assert all(share >= TARGET_NAMED for share in held.named.values()), held.named


@pytest.mark.xfail(strict=False, reason=f"held-out, measured once: {HELD_OUT_MEASURED}; the names follow "
                                        "the diarizer's clusters, and a cluster that merged voices carries one name")
def test_held_out_half_never_names_an_unenrolled_voice(results) -> None:
    held = results["heldout"]
    assert held.unenrolled_speech > 60 and held.wrong_unenrolled == 0.0
