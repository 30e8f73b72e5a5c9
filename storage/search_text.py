"""Words a person typed, made safe for the full-text indexes, and the text those indexes hold.

Both backends read the same terms: each is matched as a plain word (or a phrase when it holds
punctuation, `e-mail`), never as query syntax, so quotes, `*`, `NEAR`, `-`, `OR` or `:` in a search can
neither break the query nor change what it means."""

from __future__ import annotations

import re
import unicodedata

#: Highlight markers around matched words in a hit's snippet: control characters a transcript never
#: holds (they are dropped from indexed text), so the bot can escape the text and then add its bold.
MARK_START = "\x02"
MARK_END = "\x03"
#: Terms beyond this are ignored: a pasted paragraph must not become a query of hundreds of phrases.
MAX_TERMS = 16
MAX_TERM_CHARS = 64

_WORDLIKE = re.compile(r"\w")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def search_terms(words: str) -> list[str]:
    """The terms of a search: whitespace-separated, without double quotes, only those holding a letter
    or digit (a lone `-` or `*` matches nothing and would only confuse the index)."""
    terms = []
    for raw in words.split():
        term = _CONTROL.sub("", raw.replace('"', ""))[:MAX_TERM_CHARS]
        if _WORDLIKE.search(term):
            terms.append(term)
    return terms[:MAX_TERMS]


def quoted(terms: list[str]) -> str:
    """Terms as a query of quoted phrases, all required (FTS5 MATCH and `websearch_to_tsquery` both read
    a double-quoted string as a phrase of plain words, and juxtaposed phrases as AND)."""
    return " ".join(f'"{t}"' for t in terms)


def indexed_text(text: str | None) -> str:
    """Text as the index holds it: control characters dropped, so no stored text can contain the
    highlight markers."""
    return _CONTROL.sub(" ", text or "")


def fold(text: str) -> str:
    """Text without diacritics ("café" -> "cafe"): PostgreSQL's `simple` configuration keeps accents (and
    `unaccent` is an extension an operator may not have), so its index and queries are folded here,
    as SQLite's `remove_diacritics 2` tokenizer does."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
