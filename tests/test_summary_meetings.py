"""The offline summary on meetings written independently of its rules (tests/data/meetings, issue 16).

The meetings are frozen by hash, so no number below may be reached by editing the data. The first rules
were tuned on the tune set only and the held-out set had one run; since then all twelve are tuning data
(see HELD_OUT_ACTION_PRECISION)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import summaries
from bot.models import Segment, Transcript
from bot.summary.detect import due_phrase
from bot.summary.meeting import Meeting
from bot.summary.models import Summary
from bot.summary.offline import extract

MEETINGS = Path(__file__).parent / "data" / "meetings"
# The held-out set's single run with the first rules gave precision 22/35 = 0.629, recall 22/25 = 0.88
# (docs/summaries.md). Its items were looked at then, so the second round of rules (issue 16) tuned on all
# twelve meetings; these floors now only stop a regression (measured after that round: 25/25 = 1.00,
# recall 25/25 = 1.00). Whether the rules generalise is for a fresh held-out set to say, not this one.
HELD_OUT_ACTION_PRECISION = 0.9
HELD_OUT_ACTION_RECALL = 0.9


def test_frozen_meetings_are_unchanged():
    listed = {}
    for line in (MEETINGS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.strip()] = digest
    manifest = json.loads((MEETINGS / "manifest.json").read_text())
    for name in manifest["held_out"] + manifest["tune"]:
        for suffix in (".txt", ".json", ".truth.json"):
            assert f"{name}{suffix}" in listed, f"{name}{suffix} is not frozen"
    assert "manifest.json" in listed
    changed = [name for name, digest in listed.items()
               if hashlib.sha256((MEETINGS / name).read_bytes()).hexdigest() != digest]
    assert changed == [], f"frozen meeting files changed: {changed}"


def test_transcripts_are_built_from_the_scripts_and_quotes_are_verbatim():
    done = subprocess.run([sys.executable, str(MEETINGS / "build.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_matcher_cannot_match_a_greeting_or_hedge():
    """The evaluator's rule is strict enough that no annotated greeting, thanks, hedge, small talk or
    in-meeting request matches any action item of its own meeting."""
    for path in sorted([*MEETINGS.glob("*.truth.json"), *summaries.HELDOUT2.glob("*.truth.json")]):
        truth = json.loads(path.read_text())
        names = summaries.roster_names(truth["speakers"])
        items = truth["action_items"] + truth["borderline"]["action_items"]
        for line in truth["not_action_items"]:
            assert all(summaries.score(line, item["quotes"], names) == 0 for item in items), (path.name, line)


@pytest.fixture(scope="module")
def held_out() -> list[summaries.MeetingScore]:
    # The first held-out half, looked at while tuning (so a regression floor, not the measure: that
    # is tests/data/meetings_heldout2, which bench.summaries scores and no test does, so that nobody tunes
    # against a failing test on it).
    folder, names = summaries.sets()["spent"]
    return [summaries.score_meeting(name, folder) for name in names]


def test_held_out_action_item_precision(held_out):
    actions, _ = summaries.pooled(held_out)
    assert summaries.precision(actions) >= HELD_OUT_ACTION_PRECISION, actions.false
    assert summaries.recall(actions) >= HELD_OUT_ACTION_RECALL, actions.missed


def test_tune_set_stays_where_it_was_tuned():
    folder, names = summaries.sets()["tune"]
    scores = [summaries.score_meeting(name, folder) for name in names]
    actions, decisions = summaries.pooled(scores)
    assert summaries.precision(actions) >= 0.9, actions.false
    assert summaries.recall(actions) >= 0.9, actions.missed
    assert actions.traps == []
    assert summaries.precision(decisions) >= 0.9 and summaries.recall(decisions) >= 0.9


# --- the false positives and misses the tune set showed, one rule each ------------------------------------
def summary_of(*turns: tuple[int, str]) -> Summary:
    """A meeting from (speaker number, text) turns, one segment each."""
    segments, t = [], 0.0
    for speaker, text in turns:
        segments.append(Segment(text=text, start=t, end=t + 3.0, speaker_id=f"speaker_{speaker}"))
        t += 3.5
    return extract(Meeting.from_transcripts([Transcript(text=" ".join(x for _, x in turns), segments=segments)]))


@pytest.mark.parametrize("text", [
    "Welcome to the weekly planning meeting.",  # issue 16: "Welcome" was taken for a person's name
    "Hmm, I'll think about it.",  # hedged first person
    "Okay, let's keep it quick today, I have a hard stop at ten.",  # runs the meeting
    "Thanks all, let's have a good sprint.",  # well-wishing
    "Grace, could you tell us a bit about how your dispatch team works today?",  # answered in the meeting
    "Can you walk me through how pricing works?",
    "Can someone remind me where the sprint board moved to?",
    "It's under the new project, I'll paste the link in chat right now.",  # done now, in the meeting
    "Then we must decide.",  # deliberation is the meeting's own work
    "Ananya, please tell the status.",
    "Honestly i think we should just tell customers to use the api for big exports for now",  # a hedged proposal
])
def test_not_action_items(text):
    assert summary_of((1, text)).action_items == []


@pytest.mark.parametrize("text", [
    "Let's drop the v1 endpoint once the retries ship.",
    "Let's push them to next sprint.",
    "Okay, so we are deciding for version three directly.",
])
def test_decisions_not_action_items(text):
    result = summary_of((1, text))
    assert result.action_items == [] and result.decisions == [text]


def test_a_reply_that_only_adds_the_date_is_part_of_the_request():
    result = summary_of((2, "Kenji, can you also add the dead letter count to the queue dashboard?"),
                        (4, "Yep, I'll add it today."))
    assert [(a.owner, a.due) for a in result.action_items] == [("Kenji", "today")]
    result = summary_of((1, "Elena, can you pick up the import UI?"), (3, "Sure. I'll aim for the 19th, before I'm out."))
    assert [(a.owner, a.due) for a in result.action_items] == [("Elena", "the 19th")]


def test_an_addressee_with_a_non_ascii_name_reporting_back():
    result = summary_of((2, "Jürgen, can you please check with infra team what is happening?"),
                        (4, "Yes, I can check this. I will revert back to you on Monday."))
    assert [(a.owner, a.due) for a in result.action_items] == [("Jürgen", "on Monday")]


def test_one_commitment_said_in_two_sentences_is_one_item():
    result = summary_of((2, "I'll take the parser part. I can have it ready for review by EOD Thursday."))
    assert [(a.text, a.owner, a.due) for a in result.action_items] == [
        ("I'll take the parser part.", "Speaker 2", "by EOD Thursday")]


@pytest.mark.parametrize("text, due", [
    ("okay i can write a macro for that um by tomorrow probably", "by tomorrow"),  # "probably" hedges the date
    ("We'll get back to you on the pilot after the board meeting on the 12th.", "on the 12th"),
])
def test_commitments_with_a_deadline(text, due):
    assert [(a.owner, a.due) for a in summary_of((3, text)).action_items] == [("Speaker 3", due)]


def test_a_request_to_everyone_is_not_owned_by_the_first_to_say_will_do():
    result = summary_of((1, "Also please everybody update the tracker sheet before the weekly call."), (3, "Will do."))
    assert [(a.owner, a.due) for a in result.action_items] == [(None, "before the weekly call")]


@pytest.mark.parametrize("text, due", [
    ("I'll review it before lunch.", "before lunch"),
    ("I'll ping IT about your DNS access right after this call.", "right after this call"),
    ("I'll quarantine the three worst tests first thing Monday.", "first thing Monday"),
    ("I'll do production on Thursday night.", "on Thursday night"),
    ("It should be done in two weeks.", "in two weeks"),
])
def test_more_due_spellings(text, due):
    assert due_phrase(text) == due


# --- issue 16, second round: rules stated from the annotation guidelines, pooled tune + old held-out -------
@pytest.mark.parametrize("turns", [
    [(2, "I'm going to a wedding on Saturday.")],  # "going to" a place: a personal errand, not work
    [(1, "I'm going to the dentist tomorrow morning.")],
    [(1, "We should also do karaoke again sometime.")],  # a proposal nobody took up
    # agreeing it would be nice is not taking it up
    [(1, "We should totally do a watch party for the next season."), (2, "Oh yes, we should.")],
    [(1, "So we need to move fast if we want them.")],
    [(1, "Let's do the debrief while it's fresh.")],  # the meeting's own agenda
    [(1, "Let's go around.")],
    [(1, "Chris, can you start with the system design round?")],  # taking turns inside the meeting
    [(1, "Can you all hear me? I think my headset is acting up.")],
    [(1, "Can everyone see the Figma file?")],
    [(1, "I'll try to find a slot for that next week.")],  # an attempt is promised, not the work
])
def test_talk_that_hands_nobody_work(turns):
    assert summary_of(*turns).action_items == []


def test_a_group_proposal_taken_up_is_one_task():
    result = summary_of((1, "We should rotate the staging credentials."), (2, "I'll take that."))
    assert [(a.text, a.owner) for a in result.action_items] == [
        ("We should rotate the staging credentials.", "Speaker 2")]
    result = summary_of((1, "We should rotate the staging credentials."), (2, "Yeah, let's do it."))
    assert [(a.text, a.owner) for a in result.action_items] == [("We should rotate the staging credentials.", None)]


def test_let_me_with_a_deadline_is_a_commitment():
    result = summary_of((1, "Let me check the budget with finance and get back to you on paid social by Friday."))
    assert [(a.owner, a.due) for a in result.action_items] == [("Speaker 1", "by Friday")]


def test_an_ask_to_everyone_without_you():
    result = summary_of((1, "Can everyone put their holiday dates in the team calendar before the end of the month?"),
                        (2, "Will do."), (3, "Yep."))
    assert [(a.owner, a.due) for a in result.action_items] == [(None, "before the end of the month")]


@pytest.mark.parametrize("request_, reply, due", [
    ("Aisha, can you own the research plan?", "Yes, I'll have a draft by the end of next week.",
     "by the end of next week"),
    # The reply says when twice: both are the deadline, neither is new work.
    ("Mei, can you own adding schema validation for the gateway config?",
     "Yes. I'll have it merged before the next release train, so by the 14th.", "by the 14th"),
])
def test_an_accepting_reply_is_not_a_second_item(request_, reply, due):
    result = summary_of((1, request_), (3, reply))
    assert [(a.text, a.due) for a in result.action_items] == [(request_, due)]


def test_a_standing_rule_is_a_decision():
    text = "For the next loops let's grade take-homes within two working days."
    result = summary_of((1, text))
    assert result.action_items == [] and result.decisions == [text]


@pytest.mark.parametrize("text", [
    "I'll start with the parser tomorrow.",  # "start with" is only turn-taking when nothing is due later
    "Can you start with the migration tomorrow?",
    "I'm going to write the migration guide this week.",  # "going to" + a verb
])
def test_work_for_later_that_looks_like_talk(text):
    assert len(summary_of((2, text)).action_items) == 1


# Each category of the annotation guidelines' non-items, in phrasings written for this test, not taken
# from the meetings: whether the rules generalise past the twelve scripts.
@pytest.mark.parametrize("text", [
    "I'll be on holiday next week.",  # where someone will be
    "I'll be out on Friday, dentist.",
    "Sorry, I'll be right back.",
    "I'll talk to you later.",  # goodbyes
    "I'll see you all on Thursday.",
    "I'll keep it short.",  # ways of talking
    "I'll admit, I was skeptical at first.",
    "I'll hand over to Sam for the numbers.",  # running the meeting
    "I'll stop sharing now.",
    "Please, go ahead.",
    "Could you repeat that?",  # asking for information, answered on the spot
    "Can you say that again, you broke up?",
    "Can you explain what happened on Tuesday?",
    "Could you elaborate on the pricing?",
    "Can you mute, there's an echo?",
    "Could you give us a quick update on hiring?",
    "I'm going to grab a coffee.",  # personal errands
    "I'll pick up the kids at five today.",
])
def test_guideline_non_items_in_new_words(text):
    assert summary_of((1, text)).action_items == []


@pytest.mark.parametrize("text", [
    "I'll be sending the report on Monday.",
    "I'll be responsible for the rollout.",
    "Could you give us an update on hiring next week?",
    "I'll hand the project over to Sam next week.",
    "Let me write up the notes and send them round by end of day.",
])
def test_guideline_items_in_new_words(text):
    assert len(summary_of((1, text)).action_items) == 1


@pytest.mark.parametrize("reply", [
    "Sorry, I can't this week, I'm swamped.",
    "No, I'm out today, sorry.",
    "Not me, I'm on leave.",
    "I'd rather not, I have too much on.",
    "Unfortunately I don't have the bandwidth.",
])
def test_a_declined_ask_is_not_an_action_item(reply):
    assert summary_of((1, "Sam, can you take the release notes?"), (2, reply)).action_items == []


@pytest.mark.parametrize("reply", ["No problem, I'll do it.", "Sure."])
def test_an_accepted_ask_stays(reply):
    result = summary_of((1, "Sam, can you take the release notes?"), (2, reply))
    assert [a.owner for a in result.action_items] == ["Sam"]


def test_an_offer_taken_up_is_the_askers_task():
    result = summary_of((3, "Should I send the slides to the client?"), (1, "Yes please, by Friday."))
    assert [(a.text, a.owner, a.due) for a in result.action_items] == [
        ("Should I send the slides to the client?", "Speaker 3", "by Friday")]
    assert summary_of((3, "Should I send the slides to the client?"), (1, "No, I'll do it.")).action_items[0].owner \
        == "Speaker 1"


@pytest.mark.parametrize("text", ["Hopefully I'll get to it next week.", "If there's time, I'll write the tests."])
def test_more_hedges(text):
    assert summary_of((1, text)).action_items == []


@pytest.mark.parametrize("text", [
    "I'll walk you through the deck.",  # presenting inside the meeting
    "I'll quickly go over the numbers.",
    "I'll keep time.",
    "I'll put the link in the chat.",
    "I'll summarise where we landed.",
    "Will you be at the offsite?",  # questions about what someone is or thinks
    "Would you agree?",
    "Can you believe it?",
    "Would you mind if I jumped in?",
    "Can you talk a bit about the churn numbers?",  # asking to hear more, now
    "Can you share a bit more about that?",
    "Could you describe what the customer saw?",
    "Please note that the office is closed on Monday.",  # "please" that asks for no work
    "Please bear with me, my internet is slow.",
    "Please feel free to jump in.",
    "Please let me know if you have questions.",
    "I'm going to ask a dumb question.",  # speech acts
    "I'm going to say something unpopular.",
    "I'll push back a little on that.",
    "I'll let Priya answer that.",
    "Sounds good, I'll take your word for it.",
    "Make sure you get some rest this weekend.",
])
def test_meeting_talk_in_new_words(text):
    assert summary_of((1, text)).action_items == []


@pytest.mark.parametrize("text", [
    "Can you talk to legal about the contract?",
    "Could you describe the setup in the wiki?",
    "I'll ask the vendor for a quote.",
    "Will you send the invite?",
    "I'll post the summary in the team channel.",
    "I'll go over the numbers with finance on Monday.",
    "Can you share more details with the vendor?",
])
def test_work_in_the_same_words(text):
    assert len(summary_of((1, text)).action_items) == 1


@pytest.mark.parametrize("text", [
    "Okay, that's settled: we ship on Monday.",
    "We're going to go with option B.",
    "Let's go for the smaller scope.",
    "We'll stick with Postgres for now.",
    "The consensus is to keep the free tier.",
    "Decision made, no dark mode this quarter.",
    "Alright, it's a go for the beta.",
    "Then we're not doing the rebrand this year.",
    "Let's not migrate the billing tables yet, the vendor is still changing the schema.",  # deciding against
])
def test_decisions_in_new_words(text):
    result = summary_of((1, text))
    assert result.decisions == [text] and result.action_items == []


@pytest.mark.parametrize("text", [
    "We decided last year to use Kafka.",  # reported, not taken in this meeting
    "Okay, that's decided then.",  # closes the point before it, says nothing itself
    "I'd go with option B.",  # an opinion
    "Should we go with option B?",
    "We could go with option B if design agrees.",
    "Let's not open that can of worms today.",  # steers the meeting
])
def test_not_decisions(text):
    assert summary_of((1, text)).decisions == []


def test_a_question_naming_work_answered_by_taking_it_on():
    result = summary_of((1, "Did you renew the staging certificate?"), (2, "Ah, no. I'll do it tomorrow."))
    assert [(a.text, a.owner, a.due) for a in result.action_items] == [
        ("Did you renew the staging certificate? I'll do it tomorrow.", "Speaker 2", "tomorrow")]
    result = summary_of((1, "Then the vendor survey. Priya?"), (2, "I'll take it. Done by Friday."))
    assert [(a.text, a.owner, a.due) for a in result.action_items] == [
        ("Then the vendor survey. Priya? I'll take it. Done by Friday.", "Speaker 2", "by Friday")]


@pytest.mark.parametrize("turns", [
    [(1, "Who wants to go first?"), (2, "I'll do it.")],  # in the meeting
    [(1, "Can you take notes?"), (2, "Sure, I'll do it.")],
    [(1, "Any questions?"), (2, "I'll take it.")],  # names no work
])
def test_answers_that_take_on_no_work(turns):
    assert summary_of(*turns).action_items == []


def test_taking_it_on_then_saying_what_is_one_item():
    result = summary_of((1, "Who wants to own the config pipeline?"),
                        (2, "I'll take it. I'll write up a design by next Friday."))
    assert [(a.text, a.due) for a in result.action_items] == [
        ("I'll write up a design by next Friday.", "by next Friday")]


def test_a_sentence_that_only_says_when_dates_the_commitment_before_it():
    result = summary_of((2, "I'll write the scoping doc. Give me until the 18th."))
    assert [(a.text, a.due) for a in result.action_items] == [("I'll write the scoping doc.", "until the 18th")]


@pytest.mark.parametrize("turns", [
    [(1, "How was your weekend?"), (2, "Good! I'll tell you later.")],
    [(1, "Are you coming to the party?"), (2, "Yes, I'll be there.")],  # answers take on no work
    [(1, "Who's presenting next?"), (2, "I will.")],
    [(1, "I'll be working from home tomorrow.")],
])
def test_small_talk_answers(turns):
    assert summary_of(*turns).action_items == []


def test_a_quarter_is_a_deadline():
    result = summary_of((1, "We need to hire two more engineers by Q3."))
    assert [(a.owner, a.due) for a in result.action_items] == [(None, "by Q3")]
