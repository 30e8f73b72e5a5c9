"""Summary precision/recall: the offline extract's action items and decisions against human annotations
of meetings written independently of its rules (tests/data/meetings, see its README).

    python -m bench.summaries                 # tune, spent and held-out sets, plus the original fixture
    python -m bench.summaries --set tune      # only the tune set (what rule changes may look at)
    python -m bench.summaries --verbose       # every extracted item: matched, borderline or false

Matching rule (one-to-one, greedy by score). An extracted item matches an annotated item when, over
the evaluator's own content tokens (lower-cased words minus a fixed stopword list, crude suffix
stripping; deliberately not the summariser's tokenizer, so tuning that cannot move the yardstick):

- it shares at least 2 tokens with one of the item's verbatim quotes (the meeting's speaker names do not
  count: they say who, not what), and
- those shared tokens are at least 60% of the extracted item's own tokens, or at least 80% of a quote of
  3 or more tokens (the extract contains the whole statement plus context, "The retro moves to Friday,
  I'll send a new invite this afternoon.").

So an extracted sentence must mostly *be*, or wholly contain, the annotated statement: a greeting,
which shares at most a word with any commitment, cannot match (tests/test_summary_meetings.py checks that no annotated
greeting, thanks, hedge or small-talk line matches any item). Owner and due date are not part of
matching; they are scored on the matched pairs. Items matching an annotated borderline item are
neither hits nor false positives. An extra extract of an already matched item counts as a false
positive: a note-taker writes each action once.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Report

ROOT = Path(__file__).resolve().parents[1]
MEETINGS = ROOT / "tests" / "data" / "meetings"
# Written later by someone who had not read the rules, frozen, never tuned on (its README).
HELDOUT2 = ROOT / "tests" / "data" / "meetings_heldout2"
FIXTURE = ROOT / "tests" / "data" / "meeting"
MIN_SHARED = 2
MIN_SHARE_OF_EXTRACT = 0.6
MIN_SHARE_OF_QUOTE, MIN_QUOTE_TOKENS = 0.8, 3

_STOP = frozenset(
    """a about after again all also am an and any anyone are as at be been before being both but by can
    could did do does doing done for from get go going gonna got had has have having he her here him his
    how i i'd i'll i'm i've if in into is it it's its just let let's me might more most my no not now of
    off oh ok okay on once one only or our out over please should so some someone somebody still such sure
    than that that's the their them then there there's these they they're they've this those to too uh um
    up us very was we we'd we'll we're we've were what when where which while who will with would yeah yes
    yep you you'd you'll you're your she she's he's hers its""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DUE_FILLER = frozenset("by before until till no later than on the of in at".split())


def tokens(text: str, names: frozenset[str] = frozenset()) -> set[str]:
    """Content tokens; `names` (the roster, lower-case) are left out because a person's name says who
    does the work, not what it is ("Chris, can you start with..." is not "Chris, write up...")."""
    out = set()
    for w in _WORD.findall(text.lower().replace("’", "'")):
        if w in _STOP or w in names:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def score(extracted: str, quotes: list[str], names: frozenset[str] = frozenset()) -> float:
    """How well an extracted text matches an annotated item: 0 when it does not match at all."""
    e = tokens(extracted, names)
    best = 0.0
    for q in quotes:
        t = tokens(q, names)
        shared = len(e & t)
        contained = len(t) >= MIN_QUOTE_TOKENS and shared >= MIN_SHARE_OF_QUOTE * len(t)
        if shared >= MIN_SHARED and (shared >= MIN_SHARE_OF_EXTRACT * len(e) or contained):
            best = max(best, shared / len(e) + shared / 100)  # ties go to the larger overlap
    return best


def roster_names(speakers: dict[str, str]) -> frozenset[str]:
    return frozenset(w for name in speakers.values() for w in _WORD.findall(name.lower()))


def _norm_owner(owner: str | None, speakers: dict[str, str]) -> str | None:
    """'Speaker 2' -> the roster name of speaker_2; names compare case-insensitively."""
    if owner is None:
        return None
    m = re.fullmatch(r"speaker[ _]?(\d+)", owner.strip(), re.IGNORECASE)
    if m:
        owner = speakers.get(f"speaker_{int(m.group(1))}", owner)
    return owner.strip().lower()


def _norm_due(due: str | None) -> set[str]:
    return {w for w in _WORD.findall((due or "").lower()) if w not in _DUE_FILLER}


def due_agrees(found: str | None, truth: str | None) -> bool:
    """Same deadline words up to connectives ("by Friday" ~ "Friday"; "EOD Thursday" ~ "Thursday")."""
    a, b = _norm_due(found), _norm_due(truth)
    if not a or not b:
        return not a and not b
    return a <= b or b <= a


@dataclass
class Scored:
    """One kind (action items or decisions) in one meeting."""

    truth: int = 0
    extracted: int = 0
    hits: int = 0
    borderline: int = 0
    owner_right: int = 0
    due_right: int = 0
    false: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    traps: list[str] = field(default_factory=list)  # false positives that are annotated non-actions

    @property
    def false_positives(self) -> int:
        return self.extracted - self.hits - self.borderline

    def add(self, other: Scored) -> None:
        for name in ("truth", "extracted", "hits", "borderline", "owner_right", "due_right"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.false += other.false
        self.missed += other.missed
        self.traps += other.traps


def precision(s: Scored) -> float:
    judged = s.hits + s.false_positives
    return s.hits / judged if judged else 1.0


def recall(s: Scored) -> float:
    return s.hits / s.truth if s.truth else 1.0


def contains(extracted: str, quotes: list[str], names: frozenset[str] = frozenset()) -> float:
    """The original fixture's own rule (tests/test_summary_offline.py): its expected phrase occurs in the
    extracted text. Its phrases are fragments ("update the migration script"), not whole statements."""
    return 1.0 if any(q.lower() in extracted.lower() for q in quotes) else 0.0


def match(extracted: list[tuple[str, str | None, str | None]], truth: list[dict], borderline: list[dict],
          speakers: dict[str, str], traps: list[str] = (), scorer=score) -> Scored:
    """Score (text, owner, due) extracts against annotated items (see the module docstring)."""
    out = Scored(truth=len(truth), extracted=len(extracted))
    names = roster_names(speakers)
    pairs = sorted(
        ((scorer(text, item["quotes"], names), i, j) for i, (text, _, _) in enumerate(extracted)
         for j, item in enumerate(truth)),
        reverse=True,
    )
    taken_e: dict[int, int] = {}
    taken_t: set[int] = set()
    for s, i, j in pairs:
        if s <= 0 or i in taken_e or j in taken_t:
            continue
        taken_e[i] = j
        taken_t.add(j)
    trap_tokens = [t.lower() for t in traps]
    for i, (text, owner, due) in enumerate(extracted):
        if i in taken_e:
            item = truth[taken_e[i]]
            out.hits += 1
            out.owner_right += _norm_owner(owner, speakers) == _norm_owner(item.get("owner"), speakers)
            out.due_right += due_agrees(due, item.get("due"))
        elif any(score(text, b["quotes"], names) > 0 for b in borderline):
            out.borderline += 1
        else:
            out.false.append(f"{owner or '-'}: {text}")
            lowered = text.lower()
            if any(t in lowered or lowered.rstrip(".!?") in t for t in trap_tokens):
                out.traps.append(text)
    out.missed = [item["what"] for j, item in enumerate(truth) if j not in taken_t]
    return out


@dataclass
class MeetingScore:
    name: str
    actions: Scored
    decisions: Scored


def load_truth(name: str, folder: Path = MEETINGS) -> dict:
    return json.loads((folder / f"{name}.truth.json").read_text())


def summarise(transcript_path: Path):
    """The offline extract exactly as the bot makes it when no LLM is configured."""
    from bot.models import Transcript
    from bot.summary.meeting import Meeting
    from bot.summary.offline import extract

    transcript = Transcript.model_validate_json(transcript_path.read_text())
    return extract(Meeting.from_transcripts([transcript]))


def score_meeting(name: str, folder: Path = MEETINGS) -> MeetingScore:
    truth = load_truth(name, folder)
    summary = summarise(folder / f"{name}.json")
    speakers = truth["speakers"]
    border = truth.get("borderline", {})
    actions = match([(a.text, a.owner, a.due) for a in summary.action_items], truth["action_items"],
                    border.get("action_items", []), speakers, truth.get("not_action_items", []))
    decisions = match([(d, None, None) for d in summary.decisions],
                      [{**d, "owner": None, "due": None} for d in truth["decisions"]],
                      border.get("decisions", []), speakers)
    return MeetingScore(name, actions, decisions)


def score_fixture() -> MeetingScore:
    """tests/data/meeting, the meeting the rules were first written against (its expected.json gives a
    substring per item rather than quotes, so that substring is the quote)."""
    expected = json.loads((FIXTURE / "expected.json").read_text())
    summary = summarise(FIXTURE / "meeting.json")
    speakers = expected["speakers"]
    truth = [{"what": e["match"], "quotes": [e["match"]], "owner": e["owner"], "due": e["due"]}
             for e in expected["action_items"]]
    decisions = [{"what": d, "quotes": [d]} for d in expected["decisions"]]
    actions = match([(a.text, a.owner, a.due) for a in summary.action_items], truth, [], speakers,
                    scorer=contains)
    decided = match([(d, None, None) for d in summary.decisions], decisions, [], speakers, scorer=contains)
    return MeetingScore("fixture", actions, decided)


def sets() -> dict[str, tuple[Path, list[str]]]:
    """Set name -> (folder, meetings). The first held-out half was looked at while tuning (so it is
    `spent`, a tuning set now); `held_out` is the second set, which nobody tuned on."""
    manifest = json.loads((MEETINGS / "manifest.json").read_text())
    fresh = json.loads((HELDOUT2 / "manifest.json").read_text())
    return {"tune": (MEETINGS, manifest["tune"]), "spent": (MEETINGS, manifest["held_out"]),
            "held_out": (HELDOUT2, fresh["held_out"])}


def pooled(scores: list[MeetingScore]) -> tuple[Scored, Scored]:
    actions, decisions = Scored(), Scored()
    for s in scores:
        actions.add(s.actions)
        decisions.add(s.decisions)
    return actions, decisions


def per_meeting_table(scores: list[MeetingScore]) -> str:
    lines = ["| meeting | actions truth | extracted | hits | P | R | owner ok | due ok | decisions truth | "
             "extracted | P | R |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in scores + [MeetingScore("**pooled**", *pooled(scores))]:
        a, d = m.actions, m.decisions
        lines.append(f"| {m.name} | {a.truth} | {a.extracted} | {a.hits} | {precision(a):.2f} | {recall(a):.2f} | "
                     f"{a.owner_right}/{a.hits} | {a.due_right}/{a.hits} | {d.truth} | {d.extracted} | "
                     f"{precision(d):.2f} | {recall(d):.2f} |")
    return "\n".join(lines)


def evaluate(which: list[str]) -> tuple[Report, dict[str, list[MeetingScore]]]:
    report = Report("summaries")
    results: dict[str, list[MeetingScore]] = {}
    named = sets()
    for set_name in which:
        if set_name == "fixture":
            scores = [score_fixture()]
        else:
            folder, names = named[set_name]
            scores = [score_meeting(n, folder) for n in names]
        results[set_name] = scores
        a, d = pooled(scores)
        label = {"tune": "tune", "spent": "first held-out (spent)", "held_out": "held-out",
                 "fixture": "original fixture"}[set_name]
        target = "≥ 0.8" if set_name == "held_out" else ""
        report.add(f"{label}: action-item precision", precision(a), "", target=target)
        report.add(f"{label}: action-item recall", recall(a), "")
        report.add(f"{label}: decision precision", precision(d), "")
        report.add(f"{label}: decision recall", recall(d), "")
        report.add(f"{label}: greetings/hedges/small talk as action items", len(a.traps), "items", target="0")
        report.notes.append(
            f"{label} ({len(scores)} meeting{'s' if len(scores) > 1 else ''}): {a.hits}/{a.truth} action items found, "
            f"{a.false_positives} false, {a.borderline} borderline; owner right on {a.owner_right}/{a.hits}, "
            f"due on {a.due_right}/{a.hits}; decisions {d.hits}/{d.truth}, {d.false_positives} false")
    return report, results


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Every set takes well under a second, so quick mode runs the same thing: the smoke test then also
    # notices when a meeting file no longer loads.
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", choices=["tune", "spent", "held_out", "fixture"], action="append", dest="sets",
                        help="only these sets (default: all four)")
    parser.add_argument("--verbose", "-v", action="store_true", help="per-meeting table, misses, false items")
    args = parser.parse_args(argv)
    report, results = evaluate(args.sets or ["tune", "spent", "held_out", "fixture"])
    if args.verbose:
        for set_name, scores in results.items():
            print(f"\n## {set_name}\n\n{per_meeting_table(scores)}")
            for m in scores:
                for kind, s in (("action", m.actions), ("decision", m.decisions)):
                    for text in s.false:
                        print(f"  {m.name} false {kind}: {text}")
                    for text in s.missed:
                        print(f"  {m.name} missed {kind}: {text}")
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    rep = main()
    print(table([rep]))
    print("\n".join(f"- {n}" for n in rep.notes))
