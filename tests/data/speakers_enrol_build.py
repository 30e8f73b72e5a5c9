"""Build the enrolment recordings of tests/data/speakers/enrol/: one voice note per enrolled person, made of
prompts of that person that NO clip of tests/data/speakers/ uses, so naming is measured on speech the
voiceprint never heard.

    python3 speakers_enrol_build.py <work folder> <speakers folder>     prints "<wav> <ogg>" per note

The work folder is the one `make_clips.sh speakers` unpacks the packages into (spk/). The rule, fixed before
any naming was measured: every voice with spare prompts is enrolled except june (a tuning voice) and jfk
(one short recording, all of it in the clips), which stay unenrolled so both halves hold a voice that must
never get a name; each enrolled voice gets its unused prompts in sha1 order until ENROL_SECONDS of speech,
joined with 0.4 s pauses, through the same phone line as the clips. Standard library, sox and ffmpeg."""

from __future__ import annotations

import array
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from speakers_build import RATE, phone_line, prompts_of, write_wav  # noqa: E402

ENROLLED = ["allison", "armelle", "carlo", "ivrvoice_ru", "paola"]
UNENROLLED = ["june", "jfk"]
ENROL_SECONDS = 20.0
PAUSE = 0.4


def used_prompts(speakers: Path) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for turns in speakers.glob("*.turns.json"):
        for turn in json.loads(turns.read_text())["turns"]:
            used.setdefault(turn["speaker"], set()).update(turn["prompts"])
    return used


def main(work: Path, speakers: Path) -> None:
    used = used_prompts(speakers)
    out = speakers / "enrol"
    manifest: dict[str, object] = {"about": __doc__.split("\n\n")[0], "enrolled": {}, "unenrolled": UNENROLLED}
    for voice in ENROLLED:
        pool = [p for p in prompts_of(work, voice, wanted=400) if p.name not in used.get(voice, set())]
        samples, names, speech = array.array("h"), [], 0.0
        for prompt in reversed(pool):  # the clips took the head of the sha1 order: take from its tail
            samples.extend(prompt.samples)
            samples.extend(array.array("h", [0]) * int(PAUSE * RATE))
            names.append(prompt.name)
            speech += prompt.seconds
            if speech >= ENROL_SECONDS:
                break
        wav = work / "enrol" / f"{voice}.wav"
        write_wav(wav, samples)
        manifest["enrolled"][voice] = {"prompts": names, "seconds": round(len(samples) / RATE, 2)}  # type: ignore[index]
        print(wav, out / f"{voice}.ogg")
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    clips = json.loads((speakers / "manifest.json").read_text())["voices"]
    lines = ["Enrolment recordings of tests/data/speakers/enrol/ (built by tests/data/speakers_enrol_build.py from the",
             "same packages as the clips, prompts that no clip uses). Each is a recording of one person:", ""]
    for voice in ENROLLED:
        entry = clips[voice]
        lines.append(f"- {voice}.ogg: {entry['person']}; licence {entry['licence']}; from {entry['package']}; "
                     f"see ../{entry['copyright']}")
    lines += ["", "Files under a CC-BY-SA licence are shared under the same licence."]
    (out / "LICENSE.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
