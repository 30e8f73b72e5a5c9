"""The second held-out meeting set (tests/data/meetings_heldout2, issue 16) is frozen and well formed.

This checks only the data: its integrity (every file hashed, so any edit is visible in review), that
the transcripts are what the shared builder makes from the scripts, and that the annotations hold to the
guidelines' shape. It deliberately does not run the summariser: the set is for one evaluation run by the
lead, and a score asserted here would invite tuning on it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
HELDOUT2 = DATA / "meetings_heldout2"
BUILD = DATA / "meetings" / "build.py"


def listed_digests(folder: Path) -> dict[str, str]:
    listed = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.strip()] = digest
    return listed


def integrity_problems(folder: Path) -> list[str]:
    """Files changed, unlisted or missing with respect to the folder's SHA256SUMS."""
    listed = listed_digests(folder)
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != "SHA256SUMS"}
    problems = [f"not frozen: {n}" for n in sorted(present - listed.keys())]
    problems += [f"missing: {n}" for n in sorted(listed.keys() - present)]
    problems += [f"changed: {n}" for n in sorted(present & listed.keys())
                 if hashlib.sha256((folder / n).read_bytes()).hexdigest() != listed[n]]
    return problems


def build_check(*folders: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), "--check", *map(str, folders)],
                          capture_output=True, text=True)


def meeting_names() -> list[str]:
    return sorted(p.stem for p in HELDOUT2.glob("[0-9][0-9]_*.txt"))


def test_every_file_of_the_set_is_frozen_and_unchanged():
    assert integrity_problems(HELDOUT2) == []
    listed = listed_digests(HELDOUT2)
    for name in meeting_names():
        for suffix in (".txt", ".json", ".truth.json"):
            assert f"{name}{suffix}" in listed
    assert {"README.md", "manifest.json"} <= listed.keys()


def test_the_integrity_check_sees_an_edit_an_extra_file_and_a_removal(tmp_path):
    copy = shutil.copytree(HELDOUT2, tmp_path / "set")
    truth = copy / "03_launch_go_no_go.truth.json"
    truth.write_text(truth.read_text().replace('"owner": "Luis"', '"owner": "Bea"', 1))
    (copy / "13_extra.txt").write_text("# title: x\n")
    (copy / "README.md").unlink()
    assert integrity_problems(copy) == ["not frozen: 13_extra.txt", "missing: README.md",
                                        "changed: 03_launch_go_no_go.truth.json"]


def test_the_manifest_holds_every_meeting_out_and_tunes_on_none():
    manifest = json.loads((HELDOUT2 / "manifest.json").read_text())
    assert manifest["tune"] == []
    assert manifest["held_out"] == meeting_names()
    assert len(meeting_names()) == 12


def test_transcripts_are_built_from_the_scripts_and_quotes_are_verbatim():
    done = build_check(HELDOUT2)
    assert done.returncode == 0, done.stderr
    # With no folder given, the builder checks both sets, so the lead's one command covers this one too.
    done = build_check()
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("edit, complaint", [
    pytest.param(lambda d: (d / "07_plumber_call.txt").write_text(
        (d / "07_plumber_call.txt").read_text().replace("this evening.", "tonight.")),
     "quote not in transcript", id="quote-no-longer-verbatim"),
    pytest.param(lambda d: (d / "11_warehouse_handover_asr.truth.json").write_text(
        (d / "11_warehouse_handover_asr.truth.json").read_text().replace('"owner": "Bogdan"', '"owner": "Bob"')),
     "not on roster", id="owner-not-on-roster"),
    pytest.param(lambda d: (d / "01_support_escalation.json").write_text("{}\n"), "is stale",
                 id="json-not-built-from-script"),
])
def test_the_build_check_fails_on_a_drifted_copy(tmp_path, edit, complaint):
    copy = shutil.copytree(HELDOUT2, tmp_path / "set")
    edit(copy)
    done = build_check(copy)
    assert done.returncode == 1 and complaint in done.stderr


def test_the_build_check_fails_on_a_folder_without_meetings(tmp_path):
    done = build_check(tmp_path)
    assert done.returncode == 1 and "no NN_name.txt" in done.stderr


@pytest.mark.parametrize("name", meeting_names())
def test_each_meeting_has_a_realistic_shape_and_a_complete_annotation(name):
    transcript = json.loads((HELDOUT2 / f"{name}.json").read_text())
    truth = json.loads((HELDOUT2 / f"{name}.truth.json").read_text())
    speakers = {s["speaker_id"] for s in transcript["segments"]}
    assert 30 <= len(transcript["segments"]) <= 90
    assert 2 <= len(truth["speakers"]) <= 6 and speakers == set(truth["speakers"])
    assert truth["meeting"] == name
    assert set(truth) == {"meeting", "title", "speakers", "action_items", "decisions", "borderline",
                          "not_action_items"}
    for item in truth["action_items"] + truth["borderline"]["action_items"]:
        assert set(item) == {"owner", "due", "what", "quotes"}, item
    for item in truth["decisions"] + truth["borderline"]["decisions"]:
        assert set(item) == {"what", "quotes"}, item
    # every meeting annotates the greetings, small talk and hedges a summary must not turn into actions
    assert len(truth["not_action_items"]) >= 8


def test_the_lecture_has_no_action_items_or_decisions():
    truth = json.loads((HELDOUT2 / "06_stats_lecture.truth.json").read_text())
    assert truth["action_items"] == [] and truth["decisions"] == []
