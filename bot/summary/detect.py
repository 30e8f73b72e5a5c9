"""Rules that spot action items, decisions and open questions in meeting sentences (English phrasing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.summary.models import ActionItem
from bot.summary.text import DAYS, MONTHS, STOPWORDS, content_words, words


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


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_DAY = "|".join(DAYS)
_MONTH = "|".join(MONTHS)
_ORD = r"\d{1,2}(?:st|nd|rd|th)?"
_WHEN = (
    rf"(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|week|month|quarter|sprint|year)|eod|eow|cob"
    rf"|(?:next\s+|this\s+)?(?:{_DAY})(?:\s+(?:morning|afternoon|evening))?"
    rf"|tomorrow(?:\s+(?:morning|afternoon|evening))?|tonight|today|next\s+(?:week|month|sprint|quarter)"
    rf"|(?:the\s+)?{_ORD}(?:\s+of)?\s+(?:{_MONTH})|(?:{_MONTH})\s+{_ORD}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|the\s+{_ORD}\b"
)
DUE = [
    _rx(rf"\b(?:by|before|until|till|no\s+later\s+than|on)\s+(?:{_WHEN})\b"),
    _rx(rf"\b(?:tomorrow(?:\s+(?:morning|afternoon|evening))?|tonight|today|"
        rf"this\s+(?:afternoon|morning|evening|week)|next\s+(?:week|month|sprint|"
        rf"{_DAY})|(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|week|month|sprint)|eod|eow)\b"),
]

FIRST_PERSON = _rx(r"\b(?:i'll|i\s+will|i'm\s+going\s+to|i\s+am\s+going\s+to|i'm\s+gonna|i\s+shall|"
                   r"i\s+can\s+take\s+care)\b")
FOR_ME = _rx(r"\b(?:todo|to-do|action\s+items?)\s+for\s+me\b")
REQUEST = _rx(r"\b(?:can|could|would|will)\s+(?:you|someone|somebody|anyone)\b|\bplease\b")
GROUP = _rx(r"\b(?:we\s+(?:need|have|ought)\s+to|we'll\s+need\s+to|we\s+must|we\s+should|let's|let\s+us)\b")
EXPLICIT = _rx(r"\b(?:todo|to-do|action\s+item|follow[\s-]up|make\s+sure|assigned\s+to|don't\s+forget\s+to)\b")

NOT_ACTION = [
    _rx(r"\bi(?:'ll|\s+will)\s+be\s+(?:honest|brief|quick|frank|clear)\b"),
    _rx(r"\b(?:can|could)\s+(?:you|everyone|anyone)\s+(?:hear|see)\s+(?:me|us|my)\b"),
    _rx(r"\bwe\s+(?:should|must)\s+(?:be|have\s+been|have)\b"),
    _rx(r"\blet's\s+(?:get\s+started|start|begin|move\s+on|wrap\s+up|continue|recap|see|go\s+ahead|get\s+going)\b"),
    _rx(r"\bthank(?:s| you)\b.*\bplease\b|\bplease\s+(?:go\s+ahead|continue)\b"),
]
DECISION = _rx(r"\b(?:we(?:'ve|\s+have)?\s+decided|we\s+agreed|(?:it's|it\s+is)\s+agreed|agreed\s+(?:that|to|on)|"
               r"let's\s+go\s+with|we(?:'ll|\s+will)\s+go\s+with|we're\s+going\s+with|the\s+decision\s+is|"
               r"decision:|we\s+settled\s+on|final\s+decision)\b")
OPEN = _rx(r"\b(?:open\s+question|not\s+sure|need\s+to\s+figure\s+out|figure\s+out|don't\s+know\s+yet|"
           r"no\s+idea|unclear|to\s+be\s+decided|tbd|still\s+(?:an\s+)?open|unresolved)\b")
UNCERTAIN = _rx(r"\b(?:not\s+sure|don't\s+know|no\s+idea|unclear|open\s+question|good\s+question|can't\s+say)\b")
TOPIC_SHIFT = _rx(r"^(?:\w+,\s+)?(?:speaking\s+of|something\s+(?:else|different)|moving\s+on|next\s+topic|"
                  r"on\s+another\s+note|by\s+the\s+way|anyway|different\s+topic|unrelated)\b")
ANSWER_CUE = _rx(r"^(?:yes|yeah|yep|yup|no|nope|not\s+yet|sure|about|around|roughly|probably|definitely|"
                 r"absolutely|i|i'm|i've|it's|it\s+is|we|they|it|that|sounds|fine|agreed|makes\s+sense|"
                 r"good\s+idea|exactly|correct)\b")
ACCEPT = _rx(r"^(?:sure|yes|yeah|yep|ok(?:ay)?|will\s+do|on\s+it|i\s+can|i'll|i\s+will|no\s+problem|"
             r"consider\s+it\s+done|happy\s+to|got\s+it)\b")
LABEL_PREFIX = _rx(r"^(?:(?:ok(?:ay)?|so|and|also|then),?\s+)*(?:action\s+items?|to-?do(?:\s+for\s+me)?)\s*[:,-]\s*")

# Capitalised words that start sentences but never name a person.
NOT_NAMES = frozenset(
    "okay ok so thanks thank great sure yes yeah then also sounds nice good agreed well hi hey please maybe "
    "everyone someone somebody anyone team folks guys all right next first last and but or action todo "
    "now this that it we they you he she i nobody none".split()
) | STOPWORDS | set(DAYS) | set(MONTHS)
VOCATIVE_START = re.compile(
    r"^(?:(?:ok(?:ay)?|so|and|also|then|right)[,\s]+)*([A-Z][a-z]+),\s+(?:can|could|would|will|please|you|I'd|"
    r"make|follow|don't|remember)\b"
)
VOCATIVE_END = re.compile(r",\s+([A-Z][a-z]+)[?.!]?$")
NAMED_OWNER = re.compile(
    r"(?:^|[:;,]\s*|\band\s+)([A-Z][a-z]+)\s+(?:will|to|is\s+going\s+to|is\s+gonna|should|needs\s+to|takes|"
    r"owns)\s+\w"
)
NOT_A_TASK = re.compile(r"(?:be|been|have|has|had|know|like|think|agree|say|said)\b", re.IGNORECASE)
ASSIGNED = re.compile(r"\bassigned\s+to\s+([A-Z][a-z]+)\b")


ADDRESSEE = re.compile(r"^(?:(?:ok(?:ay)?|so|and|right)[,\s]+)*([A-Z][a-z]+),\s|,\s+([A-Z][a-z]+)\?$")


def _addressee(text: str) -> str | None:
    """The person a question is put to ("Bob, where are we...?", "..., Carol?"): they usually answer it."""
    match = ADDRESSEE.search(text)
    name = match and (match.group(1) or match.group(2))
    return name if name and name.lower() not in NOT_NAMES else None


def due_phrase(text: str) -> str | None:
    for pattern in DUE:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


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


def is_action(text: str, known: set[str] | None = None) -> bool:
    if OPEN.search(text) or DECISION.search(text):
        return False
    if any(p.search(text) for p in NOT_ACTION) or is_acceptance(text):
        return False
    return bool(FIRST_PERSON.search(text) or REQUEST.search(text) or GROUP.search(text) or EXPLICIT.search(text)
                or _names_a_doer(text, known or set()))


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
        if DECISION.search(text) and len(words(text)) >= 4:
            out.decisions.append(i)
        elif is_action(text, known):
            owner = named_owner(text, known)
            if owner is None and (FIRST_PERSON.search(text) and not REQUEST.search(text) or FOR_ME.search(text)):
                owner = s.speaker
            if owner is None and REQUEST.search(text):
                reply = _next_turn_start(sentences, i)
                if reply is not None and ACCEPT.match(reply.text):
                    owner = reply.speaker
            out.action_items.append((i, ActionItem(text=_clean(text), owner=owner, due=due_phrase(text))))
        elif question and len(content_words(text)) >= 3:
            if not _is_answered(sentences, i, s):
                out.open_questions.append(i)
                reply = _next_turn_start(sentences, i)
                if reply is not None and OPEN.search(reply.text):
                    skip.add(reply.index)  # "not sure, open question" restates the question
        elif OPEN.search(text) and len(content_words(text)) >= 3:
            out.open_questions.append(i)
    return out
