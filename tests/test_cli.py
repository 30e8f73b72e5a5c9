"""The `voxnote` command as a user runs it: a subprocess, the real engine, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "voice-note.ogg"


def voxnote(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "VOXNOTE_DB_PATH": ":memory:", **(env or {})},
    )


def reference_words() -> set[str]:
    ref = SAMPLE.with_suffix(".txt").read_text().lower()
    return {w.strip(".,!?;:'\"") for w in ref.split() if len(w) > 3}


def test_transcribe_sample_prints_the_transcript():
    result = voxnote("transcribe", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    words = {w.strip(".,!?;:'\"") for w in result.stdout.lower().split()}
    expected = reference_words()
    assert len(words & expected) >= 0.8 * len(expected), (result.stdout, expected)
    assert "Traceback" not in result.stderr


def test_transcribe_srt_to_file(tmp_path):
    out = tmp_path / "note.srt"
    result = voxnote("transcribe", str(SAMPLE), "--format", "srt", "-o", str(out), "--language", "en")
    assert result.returncode == 0, result.stderr
    srt = out.read_text()
    assert srt.startswith("1\n00:00:") and " --> " in srt


def test_the_format_follows_the_output_extension(tmp_path):
    out = tmp_path / "note.vtt"
    result = voxnote("transcribe", str(SAMPLE), "-o", str(out), "--language", "en")
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("WEBVTT")


def test_stdin_and_several_files_as_one_json_document():
    with SAMPLE.open("rb") as audio:
        piped = subprocess.run([sys.executable, "-m", "bot.cli", "transcribe", "-", "-l", "en"], stdin=audio,
                               capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert piped.returncode == 0, piped.stderr
    assert len({w.strip(".,!?;:'\"") for w in piped.stdout.lower().split()} & reference_words()) >= 5
    both = voxnote("transcribe", str(SAMPLE), str(SAMPLE), "-f", "json", "-l", "en")
    assert both.returncode == 0, both.stderr
    items = json.loads(both.stdout)  # one document, not two glued together
    assert [i["file"] for i in items] == [str(SAMPLE)] * 2 and items[0]["text"] == items[1]["text"]


def test_several_files_as_text_are_named():
    result = voxnote("transcribe", str(SAMPLE), str(SAMPLE), "-l", "en")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f"==> {SAMPLE} <==\n") == 2


def test_run_help_names_the_environment_and_the_console_fallback():
    result = voxnote("run", "--help", timeout=30)
    assert result.returncode == 0
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN", "console"):
        assert name in result.stdout


def test_version_and_bare_help():
    version = voxnote("--version")
    assert version.returncode == 0 and version.stdout.startswith("voxnote 0.")
    bare = voxnote()
    assert bare.returncode == 0 and "usage: voxnote" in bare.stdout and "transcribe" in bare.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "3"], "--temperature: 3 is outside 0-1"),
        (["--temperature", "warm"], "--temperature: not a number"),
        (["--language", "klingon"], "unknown language code 'klingon'"),
        (["-o", "/no/such/folder/out.srt"], "the folder /no/such/folder does not exist"),
    ],
)
def test_user_mistakes_are_one_line_before_any_work(args, message):
    result = voxnote("transcribe", str(SAMPLE), *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("kind", ["text", "empty", "truncated"])
def test_bad_files_give_one_line_errors(tmp_path, kind):
    path = tmp_path / f"{kind}.ogg"
    if kind == "text":
        path.write_text("this is not audio at all\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(SAMPLE.read_bytes()[:600])
    result = voxnote("transcribe", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and path.name in errors[0], result.stderr


def test_run_console_adapter_transcribes_a_posted_path(tmp_path):
    result = voxnote("run", stdin=f"/voxnote language en\n{SAMPLE}\n",
                     env={"VOXNOTE_DB_PATH": str(tmp_path / "v.db")})
    assert result.returncode == 0, result.stderr
    assert "Language set to en" in result.stdout
    words = {w.strip(".,!?;:'\"") for w in result.stdout.lower().split()}
    assert len(words & reference_words()) >= 0.8 * len(reference_words())


def test_run_names_a_missing_token():
    result = voxnote("run", env={"SLACK_APP_TOKEN": "xapp-1-test", "SLACK_BOT_TOKEN": ""})
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN is missing" in result.stderr and "xapp-1-test" not in result.stderr


def test_transcribe_diarize_labels_the_speakers():
    result = voxnote("transcribe", "--diarize", "--language", "en", str(ROOT / "tests" / "data" / "dialogue.ogg"))
    assert result.returncode == 0, result.stderr
    speakers = {line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("Speaker ")}
    assert speakers == {"Speaker 1", "Speaker 2", "Speaker 3"}, result.stdout


def test_run_with_an_unusable_model_exits_plainly_instead_of_hanging(tmp_path):
    result = voxnote("run", stdin="", env={"VOXNOTE_MODEL": str(tmp_path / "no-such-model"),
                                           "VOXNOTE_DB_PATH": str(tmp_path / "v.db")}, timeout=60)
    assert result.returncode == 1
    assert "error: model" in result.stderr and "Traceback" not in result.stderr
