"""English names of the language codes Whisper knows, for `/voxnote language` autocomplete."""

from __future__ import annotations

from discord import app_commands

from bot.models import WHISPER_LANGUAGES

NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bo": "Tibetan",
    "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque",
    "fa": "Persian", "fi": "Finnish", "fo": "Faroese", "fr": "French", "gl": "Galician", "gu": "Gujarati",
    "ha": "Hausa", "haw": "Hawaiian", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "jw": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "la": "Latin", "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian",
    "lv": "Latvian", "mg": "Malagasy", "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam",
    "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "ne": "Nepali",
    "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "oc": "Occitan", "pa": "Punjabi",
    "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit",
    "sd": "Sindhi", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish",
    "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "yi": "Yiddish",
    "yo": "Yoruba", "yue": "Cantonese", "zh": "Chinese",
}
#: Discord shows at most 25 autocomplete choices.
MAX_CHOICES = 25
#: What an empty query offers first: auto-detect and the most spoken languages.
POPULAR = ["auto", "en", "es", "fr", "de", "pt", "it", "nl", "pl", "ru", "uk", "tr", "ar", "hi", "ja", "ko", "zh"]


def label(code: str) -> str:
    return "auto-detect" if code == "auto" else f"{NAMES.get(code, code)} ({code})"


def matching(query: str) -> list[app_commands.Choice[str]]:
    """Codes whose code or name starts with (then contains) the last word typed, best matches first.
    Earlier words are candidates already chosen (`en fr`): each choice keeps them in front."""
    words = query.replace(",", " ").split()
    chosen = words[:-1] if words and not query.endswith((" ", ",")) else words
    q = "" if query.endswith((" ", ",")) or not words else words[-1].lower()
    prefix = " ".join(chosen) + " " if chosen else ""
    codes = [c for c in ["auto", *sorted(WHISPER_LANGUAGES, key=lambda c: NAMES.get(c, c))]
             if c not in chosen and not (chosen and c == "auto")]
    if not q:
        ranked = [c for c in POPULAR if c in codes] + [c for c in codes if c not in POPULAR]
    else:
        def rank(code: str) -> int:
            name = label(code).lower()
            if code == q:
                return 0
            if code.startswith(q) or name.startswith(q):
                return 1
            return 2 if q in name else 3

        ranked = sorted((c for c in codes if rank(c) < 3), key=rank)
    return [app_commands.Choice(name=(prefix + label(c))[:100], value=prefix + c) for c in ranked[:MAX_CHOICES]]
