"""Builds meeting.json (a diarized Transcript) and expected.json from the script below.

Run `python tests/data/meeting/build.py` after editing the script. Timings are synthetic but consistent:
each sentence is a segment lasting len(words) / WORDS_PER_S, long sentences are cut in two segments (as
Whisper does), turns are separated by pauses that nobody speaks in. Alice is speaker_1, Bob speaker_2,
Carol speaker_3, Dan speaker_4; the summariser only sees the speaker ids and what people say."""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
WORDS_PER_S = 2.6
TURN_GAP_S = 0.6
SEGMENT_GAP_S = 0.2
RATE = {"speaker_1": 1.0, "speaker_2": 0.9, "speaker_3": 1.1, "speaker_4": 0.95}  # people talk at different speeds

SCRIPT: list[tuple[str, str]] = [
    ("speaker_1", "Hi everyone, can you hear me? Great. Let's get started with the weekly product sync."),
    ("speaker_2", "Yes, loud and clear."),
    ("speaker_1", "First topic is the mobile release. Bob, where are we with the backend work for it?"),
    ("speaker_2", "The API changes are merged and deployed to staging. The only thing left is the database "
                  "migration for the new notification settings table. I'll update the migration script by "
                  "Thursday, it needs a rollback path before we can run it in production."),
    ("speaker_1", "How long did the migration take on staging?"),
    ("speaker_2", "About forty minutes on staging, mostly index rebuilds on the events table. Production has "
                  "roughly three times the data, so we should plan for a maintenance window."),
    ("speaker_3", "The mobile designs are not final either. The onboarding flow still has two open variants "
                  "and the usability feedback on both was mixed."),
    ("speaker_1", "Given all that, we decided to postpone the mobile release to April. It gives us time for the "
                  "migration and for the onboarding work. Carol, can you send the new onboarding mockups to "
                  "the team by Friday?"),
    ("speaker_3", "Sure. I'll include both variants with the feedback notes."),
    ("speaker_4", "From the testing side, the export endpoint has no regression tests at all. I will write the "
                  "regression tests for the export endpoint tomorrow."),
    ("speaker_1", "Thanks Dan. Is the export bug from last week fixed?"),
    ("speaker_2", "Yes, the export fix went out yesterday with the hotfix release."),
    ("speaker_4", "I'll be honest, the export numbers look good since then. Error rates dropped to almost "
                  "zero."),
    ("speaker_3", "On the signup page we tested two button colours. The blue variant converted about eight "
                  "percent better than the green one over two weeks of traffic."),
    ("speaker_1", "That's a clear result. Let's go with the blue variant for the signup button."),
    ("speaker_2", "Agreed. Dan, could you check the flaky login test on CI? It failed three times this week "
                  "and blocked two merges."),
    ("speaker_4", "Yes, I saw that. It looks like a timing issue with the session cookie. I can take a look "
                  "this afternoon."),
    ("speaker_1", "Good. Next topic is exports in general. Customers keep asking for Excel and JSON formats "
                  "in addition to CSV."),
    ("speaker_2", "Supporting Excel means a new library and more memory on the export workers. JSON is cheap, "
                  "but it is not what most customers actually open."),
    ("speaker_3", "Most of the requests come from finance teams, and they open everything in spreadsheets "
                  "anyway, so CSV covers them."),
    ("speaker_1", "Okay, so we agreed that exports stay CSV only for now. We can revisit it next quarter if "
                  "the requests keep coming."),
    ("speaker_4", "We should be fine on capacity then, the export workers are at thirty percent."),
    ("speaker_1", "Now the rate limiter. We had two incidents this month where a single customer flooded the "
                  "public API. Action item: Bob to file the ticket for the rate limiter."),
    ("speaker_2", "Will do. We should also rotate the API keys on the old cluster by the 15th of March, some "
                  "of them are older than two years."),
    ("speaker_3", "Something different. Do we actually need single sign-on for the pilot customers?"),
    ("speaker_1", "I'm not sure, that's an open question for the sales team. Two of the five pilots asked "
                  "about it during onboarding."),
    ("speaker_3", "Then I'm going to follow up with the legal team about the data retention wording in the "
                  "pilot contract, since that came up in the same calls."),
    ("speaker_4", "Can someone make sure the staging database is backed up by end of week? The migration "
                  "rehearsal will overwrite it."),
    ("speaker_2", "Sure, I can do that."),
    ("speaker_1", "We need to update the status page before the launch, it still mentions the old "
                  "maintenance schedule and the retired regions."),
    ("speaker_3", "Let's schedule a usability session with five customers next week to settle the onboarding "
                  "variants."),
    ("speaker_1", "Sounds good. We still need to figure out how to price the enterprise tier. The current "
                  "draft is too close to the team plan and nobody is convinced by it."),
    ("speaker_2", "Pricing is outside my area, but the usage data for the top accounts is in the analytics "
                  "dashboard if anyone needs it."),
    ("speaker_4", "Who owns the on-call rotation after Dan leaves in May?"),
    ("speaker_3", "Speaking of May, the design system migration should be finished by then. The component "
                  "library is about seventy percent converted."),
    ("speaker_1", "Nice progress. TODO for me: draft the announcement email for customers by Monday, with the "
                  "new release date and the signup changes."),
    ("speaker_3", "Alice, please review the copy changes on the pricing page today, they are waiting in the "
                  "design channel."),
    ("speaker_1", "Will do right after this call. Anything else? Okay, thanks everyone, see you next week."),
]

# What a careful note-taker would list; `match` is a phrase the detected item's text must contain.
ACTION_ITEMS = [
    {"match": "update the migration script", "owner": "Speaker 2", "due": "by Thursday"},
    {"match": "send the new onboarding mockups", "owner": "Carol", "due": "by Friday"},
    {"match": "write the regression tests", "owner": "Speaker 4", "due": "tomorrow"},
    {"match": "check the flaky login test", "owner": "Dan", "due": None},
    {"match": "file the ticket for the rate limiter", "owner": "Bob", "due": None},
    {"match": "rotate the API keys", "owner": None, "due": "by the 15th of March"},
    {"match": "follow up with the legal team", "owner": "Speaker 3", "due": None},
    {"match": "staging database is backed up", "owner": "Speaker 2", "due": "by end of week"},
    {"match": "update the status page", "owner": None, "due": None},
    {"match": "schedule a usability session", "owner": None, "due": "next week"},
    {"match": "draft the announcement email", "owner": "Speaker 1", "due": "by Monday"},
    {"match": "review the copy changes", "owner": "Alice", "due": "today"},
]
DECISIONS = [
    "postpone the mobile release to April",
    "go with the blue variant",
    "exports stay CSV only",
]
OPEN_QUESTIONS = [
    "need single sign-on for the pilot customers",
    "price the enterprise tier",
    "owns the on-call rotation",
]
# Answered in the meeting, so not open.
ANSWERED_QUESTIONS = ["How long did the migration take", "Is the export bug from last week fixed"]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def build() -> tuple[dict, dict]:
    segments: list[dict] = []
    talk: dict[str, float] = {}
    t = 0.0
    for speaker, text in SCRIPT:
        for i, sentence in enumerate(sentences(text)):
            words = sentence.split()
            # Whisper cuts long sentences; the summariser must stitch them back together.
            pieces = [words] if len(words) <= 16 else [words[: len(words) // 2], words[len(words) // 2 :]]
            for j, piece in enumerate(pieces):
                if i or j:
                    t += SEGMENT_GAP_S
                duration = round(len(piece) / (WORDS_PER_S * RATE[speaker]), 2)
                segments.append({"text": " ".join(piece), "start": round(t, 2), "end": round(t + duration, 2),
                                 "speaker_id": speaker, "type": "transcription_segment"})
                talk[speaker] = talk.get(speaker, 0.0) + duration
                t = round(t + duration, 2)
        t += TURN_GAP_S
    transcript = {
        "model": "scripted-meeting",
        "text": " ".join(s["text"] for s in segments),
        "language": "en",
        "segments": segments,
        "usage": {"prompt_audio_seconds": round(t, 2), "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    names = {"speaker_1": "Alice", "speaker_2": "Bob", "speaker_3": "Carol", "speaker_4": "Dan"}
    expected = {
        "speakers": names,
        "speaking_time_s": {f"Speaker {k[-1]}": round(v, 2) for k, v in sorted(talk.items())},
        "action_items": ACTION_ITEMS,
        "decisions": DECISIONS,
        "open_questions": OPEN_QUESTIONS,
        "answered_questions": ANSWERED_QUESTIONS,
    }
    return transcript, expected


if __name__ == "__main__":
    transcript, expected = build()
    (HERE / "meeting.json").write_text(json.dumps(transcript, indent=1) + "\n")
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{len(transcript['segments'])} segments, {transcript['usage']['prompt_audio_seconds']} s")
