"""Flag reactions as language requests: 🇫🇷 on a voice note asks for it in French.

A flag names a country, not a language: each maps to the language most of its people would post in,
and countries with no clear single one (Belgium, Switzerland, Canada, India…) are left out rather
than guessed. Adapters turn their platform's emoji into an ISO 3166 country code first."""

from __future__ import annotations

from bot.models import WHISPER_LANGUAGES

COUNTRY_LANGUAGE: dict[str, str] = {
    # English
    "us": "en", "gb": "en", "au": "en", "nz": "en", "ie": "en",
    # Romance
    "fr": "fr", "es": "es", "mx": "es", "ar": "es", "co": "es", "cl": "es", "pe": "es", "ve": "es",
    "uy": "es", "cu": "es", "it": "it", "pt": "pt", "br": "pt", "ro": "ro", "md": "ro",
    # Germanic and Nordic
    "de": "de", "at": "de", "nl": "nl", "se": "sv", "no": "no", "dk": "da", "is": "is", "lu": "lb",
    # Slavic and Baltic
    "ru": "ru", "ua": "uk", "by": "be", "pl": "pl", "cz": "cs", "sk": "sk", "si": "sl", "hr": "hr",
    "rs": "sr", "ba": "bs", "mk": "mk", "bg": "bg", "lt": "lt", "lv": "lv", "ee": "et",
    # Others in Europe and around it
    "fi": "fi", "hu": "hu", "gr": "el", "al": "sq", "mt": "mt", "tr": "tr", "am": "hy", "ge": "ka",
    "az": "az",
    # Middle East and Africa
    "il": "he", "sa": "ar", "eg": "ar", "ae": "ar", "ma": "ar", "dz": "ar", "tn": "ar", "iq": "ar",
    "jo": "ar", "ir": "fa", "af": "ps", "et": "am", "so": "so", "ke": "sw", "tz": "sw",
    # Asia
    "cn": "zh", "tw": "zh", "hk": "yue", "jp": "ja", "kr": "ko", "vn": "vi", "th": "th", "id": "id",
    "my": "ms", "ph": "tl", "pk": "ur", "bd": "bn", "np": "ne", "lk": "si", "kh": "km", "la": "lo",
    "mm": "my", "mn": "mn", "kz": "kk", "uz": "uz", "tj": "tg", "tm": "tk",
}
assert set(COUNTRY_LANGUAGE.values()) <= WHISPER_LANGUAGES

# Slack names these ten flags by the bare country code (the rest are `flag-xx`), `uk` included.
SLACK_SHORT_FLAGS = frozenset({"us", "gb", "uk", "fr", "de", "es", "it", "jp", "kr", "cn", "ru"})
REGIONAL_A = 0x1F1E6  # 🇦: flags are two "regional indicator" letters


def language_of_country(country: str) -> str | None:
    code = country.lower()
    return COUNTRY_LANGUAGE.get("gb" if code == "uk" else code)


def slack_flag_language(reaction: str) -> str | None:
    """`flag-fr`, `fr`, `flag-de::skin-tone-2`… -> the language, or None when it is no known flag."""
    name = reaction.split("::", 1)[0]
    if name.startswith("flag-"):
        return language_of_country(name[5:])
    return language_of_country(name) if name in SLACK_SHORT_FLAGS else None


def unicode_flag_language(emoji: str) -> str | None:
    """🇫🇷 (as Discord sends it) -> `fr`, or None when it is no known flag."""
    if len(emoji) != 2 or not all(REGIONAL_A <= ord(c) < REGIONAL_A + 26 for c in emoji):
        return None
    return language_of_country("".join(chr(ord(c) - REGIONAL_A + ord("a")) for c in emoji))
