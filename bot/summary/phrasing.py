"""English phrasing cues the offline summary reads: person and modality of a commitment, hedges, in-meeting
deixis, requests and their answers, decisions and deadlines. Regular expressions over one sentence; what
follows from them across sentences and turns is bot/summary/detect.py."""

from __future__ import annotations

import re

from bot.summary.text import DAYS, MONTHS, STOPWORDS


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_DAY = "|".join(DAYS)
_MONTH = "|".join(MONTHS)
_ORD = r"\d{1,2}(?:st|nd|rd|th)?"
_WHEN = (
    rf"(?:the\s+)?end\s+of\s+(?:the\s+)?(?:next\s+|this\s+)?(?:day|week|month|quarter|sprint|year)"
    rf"|(?:eod|eow|cob)(?:\s+(?:today|tomorrow|{_DAY}))?"
    rf"|(?:next\s+|this\s+)?(?:{_DAY})(?:\s+(?:morning|afternoon|evening|night))?"
    rf"|tomorrow(?:\s+(?:morning|afternoon|evening))?|tonight|today|next\s+(?:week|month|sprint|quarter)"
    rf"|(?:the\s+)?{_ORD}(?:\s+of)?\s+(?:{_MONTH})|(?:{_MONTH})\s+{_ORD}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|the\s+{_ORD}\b"
    # Quarters and halves: "by Q3", "before the end of H1".
    rf"|(?:the\s+end\s+of\s+)?(?:q[1-4]|h[12])\b"
)
DUE = [
    _rx(rf"\b(?:by|before|until|till|no\s+later\s+than|on)\s+(?:{_WHEN})\b"),
    # Deadlines set by an event rather than a date: "before lunch", "right after this call", "before the
    # weekly call", "first thing tomorrow", "in two weeks".
    _rx(r"\b(?:(?:right\s+|straight\s+)?after|before|by)\s+(?:lunch|(?:the|this|our|next)\s+(?:\w+\s+)?"
        r"(?:call|meeting|sync|stand-?up|review|release|launch|demo|freeze|offsite|retro|break|holidays?))\b"
        rf"|\bfirst\s+thing\s+(?:tomorrow|in\s+the\s+morning|(?:next\s+)?(?:{_DAY}))\b"
        r"|\bin\s+(?:a\s+couple\s+of|two|three|four|a\s+few|\d+)\s+(?:days|weeks)\b|\bin\s+a\s+week\b"),
    # "I'll aim for the 19th": the date is the deadline, the verb is not part of it.
    _rx(rf"\b(?:aim(?:ing)?|target(?:ing)?)\s+for\s+(?P<due>{_WHEN})\b"),
    # Not after "to"/"into": "push them to next sprint" names where work goes, not when it is due.
    _rx(rf"(?<!\bto\s)(?<!\binto\s)\b(?:tomorrow(?:\s+(?:morning|afternoon|evening))?|tonight|today|"
        rf"this\s+(?:afternoon|morning|evening|week)|next\s+(?:week|month|sprint|"
        rf"{_DAY})|(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|week|month|sprint)|eod|eow)\b"),
]

# "I'm going to a wedding" goes somewhere; only "going to" + a verb announces work (a determiner after
# "to" means a place or event, and where people go is not the meeting's business).
_GOING_TO = r"going\s+to(?!\s+(?:a|an|the|my|our|his|her|their|this|that|see|be)\b)"
FIRST_PERSON = _rx(rf"\b(?:i'll|i\s+will|i'm\s+{_GOING_TO}|i\s+am\s+{_GOING_TO}|i'm\s+gonna|i\s+shall|"
                   r"i\s+can\s+take\s+care)\b")
# "I can ..." and "we'll ..." offer or promise; with a deadline attached they are commitments
# ("I can have it ready by Thursday", "We'll get back to you after the board meeting on the 12th").
FIRST_PERSON_IF_DUE = _rx(r"\bi\s+can\s+(?!be\b|see\b|hear\b)\w+|"
                          r"\bwe(?:'ll|\s+will)\s+(?!be\b|see\b|need\b|have\s+to\b|go\s+with\b)\w+|"
                          # "Let me check with finance and get back to you by Friday": what is done in
                          # the meeting ("let me share my screen") never has a deadline.
                          r"\blet\s+me\s+(?!see\b|think\b|know\b)\w+")
FOR_ME = _rx(r"\b(?:todo|to-do|action\s+items?)\s+for\s+me\b")
REQUEST = _rx(r"\b(?:can|could|would|will)\s+(?:you|someone|somebody|anyone|everyone|everybody)\b|\bplease\b|"
              r"\bkindly\b")
# A request put to the whole room: whoever says "will do" first does not own it.
TO_EVERYONE = _rx(r"\b(?:everyone|everybody|all\s+of\s+you|each\s+of\s+you)\b")
# A proposal to the group ("we should...", "let's...") hands nobody work until it is made concrete: a
# deadline ("we need to update the status page before the launch") or someone taking it up in reply
# ("We should migrate the database." "Let's do it."). "We should do karaoke again sometime" stays talk.
GROUP = _rx(r"\b(?:we\s+(?:need|have|ought)\s+to|we'll\s+need\s+to|we\s+must|we\s+should|let's|let\s+us)\b")
# Taking up a proposal: "Let's do it", "Agreed", "I'll take that". Repeating its modal ("Oh yes, we
# should.") only agrees it would be nice.
TAKEN_UP = _rx(r"^(?:(?:oh|ok(?:ay)?|yes|yeah|yep|sure|right|fine|good\s+idea|great)[,.!]?\s+)*"
               r"(?:let's\s+do\s+(?:it|that|this)|agreed|will\s+do|on\s+it|(?:i'll|i\s+will|i\s+can)\s+"
               r"(?:do|take|handle|own|pick\s+up|set\s+up)\s+(?:it|that|this)|consider\s+it\s+done)\b")
# "Let's" with a verb that changes the plan settles something rather than handing out work: "let's drop
# the v1 endpoint", "let's push them to next sprint", "let's raise the threshold" are decisions; "let's
# schedule a usability session next week" is a task.
_PLAN_VERBS = (r"(?:drop|push|postpone|delay|defer|move|cancel|keep|stick|switch|cap|limit|raise|lower|increase|"
               r"reduce|point|use|skip|freeze|stay|stop|remove|pick|choose|prioriti[sz]e|target|go\s+for)")
LETS_DECIDE = _rx(rf"\blet(?:'s|\s+us)\s+(?:just\s+|also\s+)?{_PLAN_VERBS}\b")
# Deciding against a change is a decision too ("let's not freeze Friday deploys yet"); "let's not open
# that today" only steers the meeting, and its verb changes no plan.
LETS_NOT_DECIDE = _rx(rf"\blet(?:'s|\s+us)\s+not\s+(?:just\s+)?(?:{_PLAN_VERBS}\b|"
                      # or any change, put off: "let's not migrate the billing tables yet"
                      r"\w+\b[^.;]*?\b(?:yet|for\s+now|until|this\s+(?:sprint|quarter|year|release|month))\b)")
EXPLICIT = _rx(r"\b(?:todo|to-do|action\s+item|follow[\s-]up|make\s+sure|assigned\s+to|don't\s+forget\s+to)\b")

NOT_ACTION = [
    _rx(r"\bi(?:'ll|\s+will)\s+be\s+(?:honest|brief|quick|frank|clear)\b"),
    # "I'll be out on Friday", "I'll be on holiday next week": where someone will be, not work. "I'll be
    # sending...", "I'll be done by...", "I'll be responsible for..." still promise work.
    _rx(r"\bi(?:'ll|\s+will)\s+be\s+(?!\w+ing\b|done\b|ready\b|finished\b|responsible\b|in\s+charge\b|able\b)"),
    _rx(r"\bi(?:'ll|\s+will)\s+be\s+(?:working|based|sitting)\s+(?:from|at|in)\b"),
    # Ways of talking, not tasks: "I'll keep it short", "I'll admit...", "I'll tell you what".
    _rx(r"\bi(?:'ll|\s+will)\s+(?:keep\s+(?:it|this)\s+(?:short|brief|quick)|admit|tell\s+you\s+what|"
        r"say\s+(?:this|that|it|one\s+thing))\b"),
    _rx(r"\b(?:can|could)\s+(?:you|everyone|anyone)(?:\s+(?:all|guys|folks))?\s+(?:hear|see)\b"
        r"(?!\s+(?:if|whether|what|how|to|about)\b)"),
    _rx(r"\bwe\s+(?:should|must)\s+(?:be|have\s+been|have)\b"),
    _rx(r"\blet's\s+(?:get\s+started|start|begin|move\s+on|wrap\s+up|continue|recap|see|go\s+ahead|get\s+going|"
        r"keep\s+(?:it|this)\s+(?:quick|short|brief))\b"),
    # Deliberating is what the meeting itself does: "then we must decide" hands nobody work.
    _rx(r"\b(?:we|let's|let\s+us)\s+(?:(?:must|should|need\s+to|have\s+to|will|can)\s+)?"
        r"(?:decide|discuss|talk\s+about|think\s+about)\b"),
    # A proposal not to do something is never a task ("let's not open that today").
    _rx(r"\blet's\s+not\b"),
    _rx(r"\bthank(?:s| you)\b.*\bplease\b|\bplease,?\s+(?:go\s+ahead|continue)\b"),
    # "Please" that asks for nothing to be done: notices, patience, permission.
    _rx(r"\bplease\s+(?:note|bear\s+with|be\s+aware|excuse|don't\s+hesitate)\b|\bfeel\s+free\b|"
        r"\blet\s+me\s+know\s+if\s+you\s+have\s+(?:any\s+)?(?:more\s+|other\s+)?questions\b"),
    # Questions about what someone is, thinks or will be: "will you be at the offsite?", "would you agree?",
    # "would you mind if I jumped in?".
    _rx(r"\b(?:can|could|would|will)\s+(?:you|anyone|everyone|someone)(?:\s+all)?\s+(?:be|agree|believe|imagine|"
        r"think|guess|say|recall|remember\s+(?:if|when|what|whether)|live\s+with)\b|\bwould\s+you\s+mind\s+if\b"),
    # Speech acts inside the meeting: "I'm going to ask a dumb question", "I'll push back on that", "I'll
    # let Priya answer that", "I'll take your word for it".
    _rx(r"\b(?:i'll|i\s+will|i'm\s+going\s+to|i'm\s+gonna|let\s+me)\s+(?:just\s+|quickly\s+)?(?:"
        r"ask\s+(?:a|an|one|the)\s+(?:\w+\s+)?question|say\s+(?:something|one\s+thing)|push\s+back|"
        r"play\s+devil's\s+advocate|jump\s+in|chime\s+in|take\s+your\s+word|"
        r"let\s+\w+\s+(?:answer|speak|explain|jump\s+in|take\s+(?:this|that)|go\s+(?:first|next|ahead)))\b"),
]
# Hedged or conditional intent is not a commitment: "I might look at it if I have time", "maybe someone
# could...", "I'll think about it", "we should probably...". ("by tomorrow probably" hedges the date only.)
HEDGE = _rx(r"\b(?:maybe|perhaps|possibly|hopefully)\b|\b(?:i|we|you|someone|somebody)\s+(?:might|may)\b|"
            r"\b(?:should|will|'ll|could|can|would)\s+probably\b|\bprobably\s+(?:i|we)\b|"
            r"\bif\s+(?:i|we)\s+(?:have|get|find)\s+(?:the\s+|some\s+)?time\b|\bno\s+promises\b|"
            r"\bif\s+(?:there's|there\s+is)\s+(?:the\s+|some\s+)?time\b|\bif\s+time\s+(?:allows|permits)\b|"
            r"\bif\s+you\s+feel\s+like\s+it\b|\bi\s+(?:think|guess|suppose)\s+we\s+(?:should|could|might)\b|"
            r"\bi\s+wonder\b|\b(?:i'll|i\s+will)\s+(?:think\s+about|consider|see\s+(?:if|whether|what|how))\b|"
            # An attempt is promised, not the work: "I'll try to get something on the calendar".
            r"\b(?:i'll|i\s+will|i\s+can|we'll|we\s+can)\s+try\b")
# Done inside the meeting, so nothing is left to do afterwards: "could you tell us how...", "walk me
# through", "remind me where...", "share my screen", "I'll paste the link right now".
IN_MEETING = _rx(r"\b(?:tell|walk|remind|show)\s+(?:me|us|everyone|the\s+(?:team|group|room))\b|"
                 r"\btell\s+(?:us\s+)?(?:the|your)\s+(?:status|update)\b|\b(?:share|show)\s+(?:my|your)\s+screen\b|"
                 r"\b(?:go|start)\s+first\b|\bright\s+now\b|\bin\s+a\s+(?:sec(?:ond)?|moment|minute)\b|"
                 r"\bas\s+we\s+speak\b|"
                 # Asking for information answered on the spot: "could you repeat that?", "can you explain
                 # what happened on Tuesday?" (the day is when it happened, not a deadline).
                 r"\brepeat\s+(?:that|it|the\s+last)\b|\bsay\s+(?:that|it)\s+again\b|\belaborate\b|"
                 r"\b(?:explain|clarify)\s+(?:to\s+us\s+|for\s+us\s+)?(?:what|why|how|that|this|again)\b|"
                 r"\bexpand\s+on\b|\bspeak\s+up\b|\b(?:un)?mute\b")
# Taking turns in the meeting: "can you start with the system design round?", "let's go around". With a
# deadline it is work for later ("can you start with the migration tomorrow?").
TURN_TAKING = _rx(r"\b(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:start|begin|kick\s+(?:us\s+)?off)\s+"
                  r"(?:us\s+off\s+)?with\b|\blet's\s+go\s+(?:a)?round\b|"
                  # Handing the floor on and screen sharing: "I'll hand over to Sam", "I'll stop sharing".
                  r"\bhand(?:ing)?\s+(?:it\s+)?(?:over|back)\s+to\b|\bpass(?:ing)?\s+it\s+(?:over\s+|back\s+)?to\b|"
                  r"\bstop\s+sharing\b|\bbe\s+right\s+back\b|\b(?:talk|speak)\s+to\s+you\s+(?:all\s+)?(?:later|soon)\b|"
                  # "Could you give us a quick update?" is answered on the spot; "next week" makes it work.
                  r"\bgive\s+(?:us|me|everyone)\s+(?:a|an)\s+(?:quick\s+|short\s+|brief\s+)?"
                  r"(?:update|overview|summary|rundown|recap)\b|"
                  # Asking to hear more ("can you talk a bit about the churn numbers?", "could you describe
                  # what the customer saw?"), presenting and running the meeting ("I'll walk you through
                  # the deck", "I'll take notes", "I'll put the link in the chat"): with a deadline, work.
                  r"\b(?:talk|speak)\s+(?:a\s+(?:bit|little)\s+)?(?:more\s+)?about\b|"
                  r"\bshare\s+(?:a\s+(?:bit|little)\s+more|more\s+(?:about|on))\b|\bsay\s+more\b|"
                  r"\bdescribe\s+(?:what|how|why|where|when)\b|"
                  r"\b(?:walk|take)\s+(?:you|everyone|you\s+all|y'all)\s+through\b|"
                  r"\b(?:go|run)\s+(?:quickly\s+)?(?:over|through)\s+(?:the|my|our|this|these)\b|"
                  r"\b(?:summari[sz]e|recap)\s+(?:where|what)\b|\btake\s+(?:the\s+)?notes\b|\bkeep\s+(?:the\s+)?time\b|"
                  r"\bin\s+(?:the\s+)?(?:zoom\s+|meeting\s+|call\s+)?chat\b")
# Well-wishing and greetings are neither tasks nor decisions ("let's have a good sprint", "welcome to...").
PLEASANTRY = _rx(r"\bhave\s+a\s+(?:good|great|nice|lovely|wonderful|productive)\b|\benjoy\b|\bgood\s+luck\b|"
                 r"\bsee\s+you\b|\bcatch\s+you\s+later\b|\btell\s+you\s+(?:all\s+)?later\b|"
                 r"\bget\s+some\s+rest\b|\bfeel\s+better\b|\btake\s+it\s+easy\b|"
                 # Personal errands are nobody's action item: "I'm going to grab a coffee", "pick up the kids".
                 r"\b(?:grab|get|make)\s+(?:a\s+|some\s+|my\s+)?(?:coffee|tea|lunch|drink|bite|snack)\b|"
                 r"\bpick\s+up\s+(?:the|my)\s+(?:kids|children|son|daughter)\b|\bwalk\s+the\s+dog\b|"
                 r"\btake\s+care\b|\bwelcome\s+(?:to|back|everyone|all)\b|\bstay\s+(?:safe|dry|warm)\b")
DECISION = _rx(r"\b(?:we(?:'ve|\s+have)?\s+decided|we\s+agreed|(?:it's|it\s+is)\s+agreed|agreed\s+(?:that|to|on)|"
               r"let's\s+go\s+with|we(?:'ll|\s+will)\s+go\s+with|we're\s+going\s+with|the\s+decision\s+is|"
               r"decision:|we\s+settled\s+on|final\s+decision|final\s+answer|we(?:'re|\s+are)\s+deciding|"
               r"(?:that's|that\s+is|it's|it\s+is)\s+(?:settled|decided)|decision\s+made|(?:the\s+)?consensus\s+is|"
               r"we(?:'re|\s+are)\s+going\s+to\s+go\s+with|we(?:'ll|\s+will)\s+(?:stick|stay)\s+with|"
               r"it's\s+a\s+(?:go|no-go)\b|we(?:'re|\s+are)\s+not\s+(?:doing|shipping|going\s+ahead\s+with))\b")
# A decision reported from the past is a fact about the project, not one this meeting took.
REPORTED = _rx(r"\b(?:last\s+(?:year|month|week|quarter|time|sprint)|years?\s+ago|months?\s+ago|back\s+then|"
               r"at\s+the\s+time)\b")
# "Let's" with how things are done from now on sets a rule for the group, which is a decision rather than
# one task: "for the next loops let's grade take-homes within two days", "going forward let's...".
STANDING = _rx(r"\b(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|for\s+(?:the\s+)?(?:next|future)\s+\w+s|"
               r"every\s+time|always)\b")
OPEN = _rx(r"\b(?:open\s+question|not\s+sure|need\s+to\s+figure\s+out|figure\s+out|don't\s+know\s+yet|"
           r"no\s+idea|unclear|to\s+be\s+decided|tbd|still\s+(?:an\s+)?open|unresolved)\b")
UNCERTAIN = _rx(r"\b(?:not\s+sure|don't\s+know|no\s+idea|unclear|open\s+question|good\s+question|can't\s+say)\b")
TOPIC_SHIFT = _rx(r"^(?:\w+,\s+)?(?:speaking\s+of|something\s+(?:else|different)|moving\s+on|next\s+topic|"
                  r"on\s+another\s+note|by\s+the\s+way|anyway|different\s+topic|unrelated)\b")
ANSWER_CUE = _rx(r"^(?:yes|yeah|yep|yup|no|nope|not\s+yet|sure|about|around|roughly|probably|definitely|"
                 r"absolutely|i|i'm|i've|it's|it\s+is|we|they|it|that|sounds|fine|agreed|makes\s+sense|"
                 r"good\s+idea|exactly|correct)\b")
# Turning down what was asked: "Sorry, I can't this week", "Not me, I'm on leave", "I'd rather not".
# Whoever asked still has the task, but nobody took it, so it is not an action item (guidelines: "did not
# decline"). "No problem" and "no worries" accept.
DECLINE = _rx(r"^(?:(?:oh|um|uh|hmm|well|sorry|unfortunately|honestly|ah)[,.!]?\s+)*(?:"
              r"no\b(?![\s,]+(?:problem|worries)\b)|nope\b|not\s+me\b|(?:i|we)\s+(?:can't|cannot|won't|couldn't)\b|"
              r"i'd\s+rather\s+not\b|i'm\s+afraid\s+not\b|(?:i|we)\s+don't\s+have\s+(?:the\s+)?"
              r"(?:time|bandwidth|capacity)\b|not\s+(?:this|next)\s+(?:week|sprint|month)\b)")
# Offering to do something ("Should I write mine too?") and being told yes hands the asker the task.
OFFER = _rx(r"^(?:(?:so|and|okay|ok|oh)[,\s]+)*(?:should|shall)\s+i\s+(?!be\b)\w+|"
            r"\b(?:do\s+you\s+)?want\s+me\s+to\s+\w+|\bwould\s+you\s+like\s+me\s+to\s+\w+")
OFFER_TAKEN = _rx(r"^(?:(?:oh|ok(?:ay)?)[,.!]?\s+)*(?:yes|yeah|yep|yup|sure|please|go\s+ahead|definitely|absolutely|"
                  r"that\s+would\s+be\s+(?:great|helpful|good)|would\s+be\s+great)\b")
ACCEPT = _rx(r"^(?:sure|yes|yeah|yep|yup|ok(?:ay)?|will\s+do|on\s+it|i\s+can|i'll|i\s+will|no\s+problem|"
             r"consider\s+it\s+done|happy\s+to|got\s+it)\b")
LABEL_PREFIX = _rx(r"^(?:(?:ok(?:ay)?|so|and|also|then),?\s+)*(?:action\s+items?|to-?do(?:\s+for\s+me)?)\s*[:,-]\s*")

# A capitalised word, Latin letters included ("Jürgen," is an addressee as much as "Bob,").
NAME = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+"
# Capitalised words that start sentences but never name a person.
NOT_NAMES = frozenset(
    "okay ok so thanks thank great sure yes yeah then also sounds nice good agreed well hi hey please maybe "
    "welcome hello glad happy back time "
    "everyone someone somebody anyone team folks guys all right next first last and but or action todo "
    "now this that it we they you he she i nobody none".split()
) | STOPWORDS | set(DAYS) | set(MONTHS)
VOCATIVE_START = re.compile(
    rf"^(?:(?:ok(?:ay)?|so|and|also|then|right)[,\s]+)*({NAME}),\s+(?:can|could|would|will|please|kindly|you|"
    r"I'd|make|follow|don't|remember)\b"
)
VOCATIVE_END = re.compile(rf",\s+({NAME})[?.!]?$")
# "Lena to draft the RFC" hands Lena a task only if a verb follows "to": "Welcome to the weekly planning
# meeting" has a determiner there, and no name.
_TO_VERB = r"to\s+(?!(?:the|a|an|my|our|your|his|her|their|this|that|these|those|all|everyone|you|me|us|them)\b)"
NAMED_OWNER = re.compile(
    rf"(?:^|[:;,]\s*|\band\s+)({NAME})\s+(?:will|{_TO_VERB}|is\s+going\s+to|is\s+gonna|should|needs\s+to|"
    r"takes|owns)\s*\w"
)
NOT_A_TASK = re.compile(r"(?:be|been|have|has|had|know|like|think|agree|say|said)\b", re.IGNORECASE)
ASSIGNED = re.compile(rf"\bassigned\s+to\s+({NAME})\b")


ADDRESSEE = re.compile(rf"^(?:(?:ok(?:ay)?|so|and|right)[,\s]+)*({NAME}),\s|,\s+({NAME})\?$")
ANAPHOR = _rx(r"\b(?:it|them|this|that|those|these)\b")
REPORT_BACK = _rx(r"\b(?:get|come|revert|report|circle)\s+back\b")
# The answer takes something on: "I'll take it", "I'll do that tonight"; "I'll be there", "I will." do not.
TAKES_IT = _rx(r"\b(?:i'll|i\s+will|i\s+can|i'm\s+going\s+to)\s+(?:\w+\s+){0,2}?(?:it|that|this|them|those)\b")


def due_phrase(text: str) -> str | None:
    for pattern in DUE:
        match = pattern.search(text)
        if match:
            return match.groupdict().get("due") or match.group(0)
    return None


def without_due(text: str) -> str:
    for pattern in DUE:
        text = pattern.sub(" ", text)
    return text
