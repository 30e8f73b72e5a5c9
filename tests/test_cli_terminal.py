"""`voxnote transcribe` on a terminal and off one: the real console script with its stderr on a pseudo-
terminal shows a "loading" line and, for a long recording, a progress bar with position, speed and time
left; with stderr on a pipe it shows neither, nor the live text."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from bot.engine.audio import encode_wav, load_audio
from bot.terminal import LiveView

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "voice-note.ogg"
VOXNOTE = Path(sys.executable).with_name("voxnote")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_"))}
    return {**keep, "VOXNOTE_DB_PATH": ":memory:", **extra}


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> Path:
    """The sample four times over: 1:09, long enough for a progress bar."""
    decoded = asyncio.run(load_audio(SAMPLE.read_bytes(), max_bytes=10**8, max_seconds=3600))
    path = tmp_path_factory.mktemp("long") / "long note.wav"
    path.write_bytes(encode_wav(np.tile(decoded.samples, 4)))
    return path


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str, str]:
    """Run with stderr on a 100x30 pseudo-terminal; returns (exit code, what the terminal showed, stdout)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            env={**env, "TERM": "xterm-256color"}, cwd=ROOT)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    stdout = proc.stdout.read().decode()
    proc.wait(timeout=30)
    return proc.returncode, ANSI.sub("", shown.decode(errors="replace")), stdout


def test_a_long_recording_on_a_terminal_shows_loading_and_progress(long_recording, tmp_path):
    # A cache with no joined model yet: the first run's few seconds of joining and loading.
    code, shown, stdout = run_on_terminal(
        [str(VOXNOTE), "transcribe", str(long_recording), "-l", "en"],
        clean_env(VOXNOTE_MODEL_CACHE_DIR=str(tmp_path / "cache")),
    )
    assert code == 0, shown
    assert re.search(r"loading the speech model… done in \d+\.\d s", shown), shown
    steps = re.findall(r"(\d:\d\d) of 1:09 · (\d+\.\d)× real time · (\d:\d\d) left", shown)
    assert steps, shown
    assert steps[-1][0] == "1:09" and steps[-1][2] == "0:00"  # finished
    assert any(position != "1:09" for position, _, _ in steps)  # and shown on the way
    assert "Traceback" not in shown
    assert stdout.lower().count("echo test") >= 3  # the transcript itself still goes to stdout


def test_off_a_terminal_stderr_gets_no_live_view():
    result = subprocess.run([str(VOXNOTE), "transcribe", str(SAMPLE), "-l", "en"], capture_output=True, text=True,
                            timeout=180, env=clean_env(), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "echo test" in result.stdout.lower()
    # A log or a pipe gets no live text, spinner or bar: only what it must know.
    assert result.stderr == "", result.stderr


def test_the_bar_stays_in_view_below_a_text_taller_than_the_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=40, height=6, color_system=None)
    with LiveView(console, 600.0, transient=False) as view:
        for n in range(30):
            view.delta(f"sentence number {n} of a long meeting. ")
        view.reached(120.0)
        frame = io.StringIO()
        Console(file=frame, width=40, height=6, color_system=None).print(view._live.renderable)
    lines = frame.getvalue().splitlines()
    # At 40 columns the bar and its figures take three lines; the text gets the rest, its newest lines.
    assert len(lines) == 6 and "2:00 of 10:00" in "".join(lines[-3:]) and "left" in lines[-1]
    assert lines[2].startswith("sentence number 29")
    # Once closed, the whole text stays on the screen, not only its last lines.
    assert "sentence number 0 " in ANSI.sub("", out.getvalue())
