"""Build the transcript JSON for each hand-written meeting script.

The scripts (``NN_name.txt``) are the source: a small header (title, style,
speaker roster) and one ``<speaker number>: <text>`` line per transcript
segment.  This turns each script into ``NN_name.json`` shaped like a
transcription response (``text``, ``segments`` with ``speaker_id`` and
timings, ``usage``), so the summary code reads it exactly as it reads a real
diarized transcript.  Timings are synthetic but deterministic (a fixed
speaking rate), because speaking-time figures are not what these meetings
evaluate.

It also checks each ``NN_name.truth.json`` against its script: every quote
must occur verbatim in a segment and every owner must be on the roster, so an
annotation cannot silently drift from the transcript it describes.

Run: python tests/data/meetings/build.py        (rewrites the .json files)
     python tests/data/meetings/build.py --check (fails if anything differs)

Both meeting sets are built by this one file, so a second held-out set cannot drift from the first in
format or timing: with no folder given it handles every folder in ``FOLDERS``; a folder path as an
argument handles only that one (``build.py --check tests/data/meetings_heldout2``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The original twelve (tune + held-out) and the second held-out set, written later and never tuned on.
FOLDERS = (HERE, HERE.parent / "meetings_heldout2")
WORDS_PER_SECOND = 2.6
GAP_SAME_SPEAKER = 0.25
GAP_NEW_SPEAKER = 0.6


def parse_script(path: Path) -> dict:
    header: dict[str, str] = {}
    roster: dict[str, str] = {}
    lines: list[tuple[str, str]] = []
    body = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "---":
            body = True
            continue
        if not body:
            if line.startswith("#"):
                key, _, value = line.lstrip("# ").partition(":")
                header[key.strip()] = value.strip()
            else:
                sid, _, name = line.partition(":")
                roster[sid.strip()] = name.strip()
            continue
        m = re.match(r"^(\d+):\s*(.+)$", line)
        if not m:
            raise ValueError(f"{path.name}: bad line {raw!r}")
        sid = f"speaker_{m.group(1)}"
        if sid not in roster:
            raise ValueError(f"{path.name}: {sid} not on the roster")
        lines.append((sid, m.group(2)))
    return {"header": header, "roster": roster, "lines": lines}


def transcript(script: dict) -> dict:
    segments = []
    t = 0.0
    previous = None
    for sid, text in script["lines"]:
        if previous is not None:
            t += GAP_SAME_SPEAKER if sid == previous else GAP_NEW_SPEAKER
        words = len(text.split())
        start = round(t, 2)
        end = round(t + max(0.6, words / WORDS_PER_SECOND), 2)
        segments.append({"text": text, "start": start, "end": end,
                         "speaker_id": sid, "type": "transcription_segment"})
        t = end
        previous = sid
    return {
        "model": "scripted-meeting",
        "text": " ".join(s["text"] for s in segments),
        "language": "en",
        "segments": segments,
        "usage": {"prompt_audio_seconds": round(t, 1), "prompt_tokens": 0,
                  "completion_tokens": 0, "total_tokens": 0},
    }


def check_truth(script: dict, truth: dict, name: str) -> list[str]:
    problems = []
    texts = [text for _, text in script["lines"]]
    if truth.get("speakers") != script["roster"]:
        problems.append(f"{name}: truth speakers differ from the script roster")
    names = set(script["roster"].values())

    def quotes_ok(item, kind):
        for q in item.get("quotes", []):
            if not any(q in t for t in texts):
                problems.append(f"{name}: {kind} quote not in transcript: {q!r}")
        if not item.get("quotes"):
            problems.append(f"{name}: {kind} without quotes: {item!r}")

    for item in truth["action_items"]:
        quotes_ok(item, "action")
        if item.get("owner") is not None and item["owner"] not in names:
            problems.append(f"{name}: owner {item['owner']!r} not on roster")
    for item in truth["decisions"]:
        quotes_ok(item, "decision")
    for kind in ("action_items", "decisions"):
        for item in truth.get("borderline", {}).get(kind, []):
            quotes_ok(item, "borderline " + kind)
    for q in truth.get("not_action_items", []):
        if not any(q in t for t in texts):
            problems.append(f"{name}: not_action_items quote not in transcript: {q!r}")
    return problems


def build_folder(folder: Path, check: bool) -> list[str]:
    problems: list[str] = []
    scripts = sorted(folder.glob("[0-9][0-9]_*.txt"))
    if not scripts:
        # An empty or mistyped folder would otherwise "pass" the check with nothing checked.
        return [f"{folder}: no NN_name.txt meeting scripts"]
    for script_path in scripts:
        name = script_path.stem
        script = parse_script(script_path)
        out = folder / f"{name}.json"
        rendered = json.dumps(transcript(script), indent=1, ensure_ascii=False) + "\n"
        if check:
            if not out.exists() or out.read_text(encoding="utf-8") != rendered:
                problems.append(f"{folder.name}/{out.name} is stale; rerun build.py")
        else:
            out.write_text(rendered, encoding="utf-8")
        truth_path = folder / f"{name}.truth.json"
        if not truth_path.exists():
            problems.append(f"{folder.name}/{truth_path.name} missing")
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if truth.get("meeting") != name:
            problems.append(f"{folder.name}/{truth_path.name}: 'meeting' is {truth.get('meeting')!r}")
        problems += check_truth(script, truth, f"{folder.name}/{name}")
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    folders = [Path(a).resolve() for a in argv if a != "--check"] or list(FOLDERS)
    problems: list[str] = []
    for folder in folders:
        problems += build_folder(folder, check)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
