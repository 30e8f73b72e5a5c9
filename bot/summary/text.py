"""Small English text tools for the offline summariser: sentences, content words, a crude stemmer."""

from __future__ import annotations

import re

# A compact stopword list (function words, fillers, modal verbs) so no corpus has to be downloaded.
STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all almost also am an and any anyone anything are aren't around as at
    be because been before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else even ever every few for from further get gets getting go
    goes going gonna got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
    herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself just
    kind know let let's like lot maybe me might mine more most much must mustn't my myself need needs no nor not
    now of off oh ok okay on once one only or other others our ours ourselves out over own per please pretty
    quite rather really right said same say says see seem seems shall shan't she she'd she'll she's should
    shouldn't so some something sort still such sure than thank thanks that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've thing things think this those though
    through to too uh um under until up upon us very via want was wasn't way we we'd we'll we're we've well were
    weren't what what's when when's where where's whether which while who who's whom why why's will with won't
    would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves may also actually
    basically anyway guess mean okay alright great good yep yup hmm""".split()
)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def split_sentences(text: str) -> list[str]:
    """Split at ., ! or ? followed by a capital or digit (keeps "e.g. the" and "3.5" together)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def stem(word: str) -> str:
    """Strip common English suffixes so "fixed", "fixes" and "fix" meet; crude on purpose."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def content_words(text: str) -> list[str]:
    """Stemmed words that carry meaning: no stopwords, no one- or two-letter words."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 2]
