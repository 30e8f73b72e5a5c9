"""Rules that spot action items, decisions and open questions in meeting sentences: which sentence is a
task, who owns it and when it is due, reading the phrasing cues (bot/summary/phrasing.py) across turns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.summary.models import ActionItem
from bot.summary.phrasing import (
    ACCEPT,
    ADDRESSEE,
    ANAPHOR,
    ANSWER_CUE,
    ASSIGNED,
    DECISION,
    DECLINE,
    EXPLICIT,
    FIRST_PERSON,
    FIRST_PERSON_IF_DUE,
    FOR_ME,
    GROUP,
    HEDGE,
    IN_MEETING,
    LABEL_PREFIX,
    LETS_DECIDE,
    LETS_NOT_DECIDE,
    NAMED_OWNER,
    NOT_ACTION,
    NOT_A_TASK,
    NOT_NAMES,
    OFFER,
    OFFER_TAKEN,
    OPEN,
    PLEASANTRY,
    REPORTED,
    REPORT_BACK,
    REQUEST,
    STANDING,
    TAKEN_UP,
    TAKES_IT,
    TOPIC_SHIFT,
    TO_EVERYONE,
    TURN_TAKING,
    UNCERTAIN,
    VOCATIVE_END,
    VOCATIVE_START,
    due_phrase,
    without_due,
)
from bot.summary.text import content_words, words


@dataclass
class Sentence:
    index: int
    speaker: str | None
    start: float
    text: str
    turn: int


@dataclass
class Findings:
    action_items: list[tuple[int, ActionItem]] = field(default_factory=list)
    decisions: list[int] = field(default_factory=list)
    open_questions: list[int] = field(default_factory=list)

    @property
    def used(self) -> set[int]:
        return {i for i, _ in self.action_items} | set(self.decisions) | set(self.open_questions)


def _addressee(text: str) -> str | None:
    """The person a question is put to ("Bob, where are we...?", "..., Carol?"): they usually answer it."""
    match = ADDRESSEE.search(text)
    name = match and (match.group(1) or match.group(2))
    return name if name and name.lower() not in NOT_NAMES else None


def _is_name(word: str, known: set[str]) -> bool:
    return word in known or word.lower() not in NOT_NAMES


def named_owner(text: str, known: set[str]) -> str | None:
    """A person the sentence hands the task to: "Alice, can you...", "..., Bob?", "Bob to file...", "assigned to Bob"."""
    body = LABEL_PREFIX.sub("", text)
    for pattern in (VOCATIVE_START, VOCATIVE_END, NAMED_OWNER, ASSIGNED):
        for match in pattern.finditer(body):
            if _is_name(match.group(1), known):
                return match.group(1)
    return None


def is_acceptance(text: str) -> bool:
    """"Sure, I'll do that", "Will do": taking on what was just asked, saying nothing new."""
    return bool(ACCEPT.match(text)) and len(content_words(text)) <= 1


def _names_a_doer(text: str, known: set[str]) -> bool:
    """"Marco will handle...", "Lena to draft...", but not "Marco will be out"."""
    body = LABEL_PREFIX.sub("", text)
    return any(
        _is_name(m.group(1), known) and not NOT_A_TASK.match(body, m.end(0) - 1)
        for m in NAMED_OWNER.finditer(body)
    )


def _not_a_task(text: str) -> bool:
    """Hedged, done within the meeting, or a pleasantry: whatever its grammar, nobody leaves with work."""
    if TURN_TAKING.search(text) and due_phrase(text) is None:
        return True
    return bool(HEDGE.search(text) or IN_MEETING.search(text) or PLEASANTRY.search(text))


def is_decision(text: str) -> bool:
    if text.rstrip().endswith("?") or REPORTED.search(text):
        return False
    match = LETS_NOT_DECIDE.search(text)
    if match and len(content_words(text[match.start():])) >= 2 and not HEDGE.search(text):
        return True
    # "Let's keep it quick today" runs the meeting; it decides nothing about the work.
    if _not_a_task(text) or any(p.search(text) for p in NOT_ACTION):
        return False
    if (cue := DECISION.search(text)) is not None:
        # It has to say what was decided: "Okay, that's decided then." only closes the point before it.
        return len(content_words(text[: cue.start()] + " " + text[cue.end() :])) >= 1
    # "Let's do that." settles nothing by itself: the plan verb needs an object.
    if re.search(r"\blet(?:'s|\s+us)\b", text, re.IGNORECASE) and STANDING.search(text):
        return len(words(text)) >= 4
    match = LETS_DECIDE.search(text)
    return bool(match) and len(content_words(text[match.start():])) >= 2


def is_action(text: str, known: set[str] | None = None) -> bool:
    if OPEN.search(text) or DECISION.search(text) or LETS_DECIDE.search(text):
        return False
    if any(p.search(text) for p in NOT_ACTION) or is_acceptance(text) or _not_a_task(text):
        return False
    if FIRST_PERSON.search(text) or REQUEST.search(text) or EXPLICIT.search(text):
        return True
    if GROUP.search(text):
        return due_phrase(text) is not None
    if _names_a_doer(text, known or set()):
        return True
    return due_phrase(text) is not None and bool(FIRST_PERSON_IF_DUE.search(text))




def adds_only_a_date(reply: str, request: str) -> bool:
    """A reply that takes on the request and adds at most when: "Yep, I'll add it today", "Yes, I will
    send them to you after the call", "I will revert back to you on Monday". Listing it again as its own
    item would give the reader a second, contextless copy of the same task."""
    if not (FIRST_PERSON.search(reply) or FIRST_PERSON_IF_DUE.search(reply) or ACCEPT.match(reply)):
        return False
    # A reply may give its deadline twice ("before the next release train, so by the 14th"): all of it is when.
    rest = set(content_words(without_due(reply))) - set(content_words(request))
    return len(rest) <= 1 or bool(REPORT_BACK.search(reply)) or (bool(ANAPHOR.search(reply)) and len(rest) <= 3)


def _reply_turn(sentences: list[Sentence], i: int) -> list[Sentence]:
    first = _next_turn_start(sentences, i)
    if first is None or first.speaker is None:
        return [first] if first is not None else []
    return [s for s in sentences[first.index :] if s.turn == first.turn]


def _clean(text: str) -> str:
    cleaned = LABEL_PREFIX.sub("", text).strip()
    return cleaned[:1].upper() + cleaned[1:] if cleaned else text


def _next_turn_start(sentences: list[Sentence], i: int) -> Sentence | None:
    """The first sentence of the next turn by someone else, if it directly follows.

    Without speaker labels every sentence may be a reply, so the next sentence is taken."""
    if sentences[i].speaker is None:
        return sentences[i + 1] if i + 1 < len(sentences) else None
    for s in sentences[i + 1 :]:
        if s.turn != sentences[i].turn:
            return s if s.speaker != sentences[i].speaker else None
    return None


def _is_answered(sentences: list[Sentence], i: int, question: Sentence) -> bool:
    reply = _next_turn_start(sentences, i)
    if reply is None or UNCERTAIN.search(reply.text) or TOPIC_SHIFT.search(reply.text):
        return False
    if reply.text.rstrip().endswith("?"):
        return False
    addressed = _addressee(question.text) is not None
    overlap = set(content_words(question.text)) & set(content_words(reply.text))
    return bool(addressed or overlap or ANSWER_CUE.match(reply.text))


def _taken_up(sentences: list[Sentence], i: int) -> Sentence | None:
    """The sentence that takes up a group proposal ("We should migrate the database." "Let's do it."):
    the next one, by anyone, when the proposal is otherwise a plain task."""
    text = sentences[i].text
    if not GROUP.search(text) or text.rstrip().endswith("?") or i + 1 >= len(sentences):
        return None
    if OPEN.search(text) or LETS_DECIDE.search(text) or any(p.search(text) for p in NOT_ACTION) or _not_a_task(text):
        return None
    nxt = sentences[i + 1]
    return nxt if TAKEN_UP.match(nxt.text) and not _not_a_task(nxt.text) else None


def _declined(sentences: list[Sentence], i: int) -> bool:
    if not REQUEST.search(sentences[i].text):
        return False
    reply = _next_turn_start(sentences, i)
    return reply is not None and reply.speaker is not None and bool(DECLINE.match(reply.text))


def _offer_taken(sentences: list[Sentence], i: int) -> Sentence | None:
    """The yes to "Should I write mine too?", "Want me to send the deck?"."""
    text = sentences[i].text
    if not (text.rstrip().endswith("?") and OFFER.search(text)) or _not_a_task(text):
        return None
    reply = _next_turn_start(sentences, i)
    return reply if reply is not None and reply.speaker is not None and OFFER_TAKEN.match(reply.text) else None




def _answered_with_commitment(
    sentences: list[Sentence], i: int
) -> tuple[list[Sentence], Sentence | None] | None:
    """A question that names work, answered by taking it on: "The audit log export. Kwame?" "I'll take it.
    Should be done in two weeks."; "Did you submit your expenses?" "Oops, no. I'll do it tonight."

    "I'll take it" says nothing alone, so the item is the question with its answer: the question's
    sentences (the last question of the other speaker's turn and the sentence before it when the question
    is only a name) and, when the next sentence of the answer gives the deadline, that one too."""
    s = sentences[i]
    if s.speaker is None or not is_acceptance(s.text) or not (FIRST_PERSON.search(s.text) or
                                                              FIRST_PERSON_IF_DUE.search(s.text)):
        return None
    if _not_a_task(s.text) or any(p.search(s.text) for p in NOT_ACTION) or not TAKES_IT.search(s.text):
        return None
    # The answer opens its turn, perhaps after "Yes."/"Oops, no.".
    turn = [x for x in sentences[: i + 1] if x.turn == s.turn]
    if len(turn) > 2 or (len(turn) == 2 and len(content_words(turn[0].text)) > 1):
        return None
    before = [x for x in sentences[: turn[0].index] if x.turn == s.turn - 1]
    if not before or before[0].speaker in (None, s.speaker):
        return None
    asks = [x for x in before[-2:] if x.text.rstrip().endswith("?")]
    if not asks:
        return None
    q = asks[-1]
    if REQUEST.search(q.text) or OFFER.search(q.text) or _not_a_task(q.text) or any(
            p.search(q.text) for p in NOT_ACTION):
        return None
    what = [q]
    if len(content_words(q.text)) < 2 and q.index > before[0].index:
        what = [sentences[q.index - 1], q]
    if len(content_words(" ".join(x.text for x in what))) < 2:
        return None
    rest = [x for x in sentences[i + 1 :] if x.turn == s.turn]
    if any(is_action(x.text) for x in rest):
        return None  # "I'll take it. I'll write up a design by Friday.": the next sentence says what
    nxt = rest[0] if rest else None
    then = nxt if nxt is not None and nxt.turn == s.turn and due_phrase(nxt.text) and len(
        content_words(without_due(nxt.text))) <= 2 else None
    return what, then


def find(sentences: list[Sentence], known_names: set[str] | None = None) -> Findings:
    """Scan sentences in order; each sentence lands in at most one list."""
    known = known_names or set()
    out = Findings()
    skip: set[int] = set()
    for i, s in enumerate(sentences):
        if i in skip:
            continue
        text = s.text
        question = text.rstrip().endswith("?")
        if is_decision(text):
            out.decisions.append(i)
        elif is_action(text, known) and not _declined(sentences, i):
            owner = named_owner(text, known)
            commits = FIRST_PERSON.search(text) or FIRST_PERSON_IF_DUE.search(text)
            if owner is None and (commits and not REQUEST.search(text) or FOR_ME.search(text)):
                owner = s.speaker
            due = due_phrase(text)
            if REQUEST.search(text) or (owner is not None and owner != s.speaker):
                reply = _next_turn_start(sentences, i)
                accepted = reply is not None and ACCEPT.match(reply.text)
                if owner is None and accepted and not TO_EVERYONE.search(text):
                    owner = reply.speaker  # type: ignore[union-attr]
                # The answer to a request belongs to it: take its deadline, do not list it twice.
                for r in _reply_turn(sentences, i):
                    if r.index > i and adds_only_a_date(r.text, text):
                        skip.add(r.index)
                        due = due or due_phrase(r.text)
            elif commits and i + 1 < len(sentences):
                # "I'll take the parser part. I can have it ready by EOD Thursday.": one task, said twice.
                nxt = sentences[i + 1]
                # "I'll write the scoping doc. Give me until the 18th.": a sentence that only says when.
                only_when = due_phrase(nxt.text) is not None and len(content_words(without_due(nxt.text))) <= 1
                if nxt.turn == s.turn and (ANAPHOR.search(nxt.text) and adds_only_a_date(nxt.text, text) or only_when):
                    skip.add(nxt.index)
                    due = due or due_phrase(nxt.text)
            out.action_items.append((i, ActionItem(text=_clean(text), owner=owner, due=due)))
        elif (taker := _taken_up(sentences, i)) is not None:
            # The proposal is the task; the "let's do it" that made it one says nothing new.
            skip.add(taker.index)
            owner = taker.speaker if FIRST_PERSON.search(taker.text) or FIRST_PERSON_IF_DUE.search(taker.text) else None
            out.action_items.append((i, ActionItem(text=_clean(text), owner=owner, due=due_phrase(taker.text))))
        elif _offer_taken(sentences, i) is not None:
            due = due_phrase(text) or next((d for r in _reply_turn(sentences, i) if (d := due_phrase(r.text))), None)
            out.action_items.append((i, ActionItem(text=_clean(text), owner=s.speaker, due=due)))
        elif (asked := _answered_with_commitment(sentences, i)) is not None:
            what, then = asked
            due = due_phrase(text) or (due_phrase(then.text) if then is not None else None)
            if then is not None:
                skip.add(then.index)
            joined = " ".join(x.text for x in [*what, s] + ([then] if then is not None else []))
            out.action_items.append((i, ActionItem(text=_clean(joined), owner=s.speaker, due=due)))
        elif question and len(content_words(text)) >= 3:
            if not _is_answered(sentences, i, s):
                out.open_questions.append(i)
                reply = _next_turn_start(sentences, i)
                if reply is not None and OPEN.search(reply.text):
                    skip.add(reply.index)  # "not sure, open question" restates the question
        elif OPEN.search(text) and len(content_words(text)) >= 3:
            out.open_questions.append(i)
    return out
