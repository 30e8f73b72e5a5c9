"""The console adapter as someone at a terminal uses it: plain text, dropped paths, quiet libraries, and a
question before `/voxnote forget`. In-process through `run_console` with a real core and SQLite store,
and once as the real `voxnote run` with the real engine."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import queue
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from adapters.console import paths_in, plain, run_console
from bot.commands import HELP, describe
from bot.config import Settings
from bot.core import RETRY_HINT, Voxnote, failure_text
from bot.errors import TranscriptionUnavailable
from bot.models import ChannelSettings, Segment
from bot.pipeline import PLACEHOLDER
from storage import SQLiteStore
from tests.fixtures.transcriber import ScriptedTranscriber

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "voice-note.ogg"
EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z_]+:(?![\w:])")
SEGMENTS = [Segment(text="Ship the release on Friday.", start=0, end=2)]


class TypedInput:
    """stdin as a person types it: `readline` blocks until the test types a line; `close` is Ctrl-D."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()

    def type(self, line: str) -> None:
        self._lines.put(line + "\n")

    def close(self) -> None:
        self._lines.put("")

    def readline(self) -> str:
        return self._lines.get()


class Session:
    """A running console adapter on a real core; `screen` is everything it printed."""

    def __init__(self, core: Voxnote, store: SQLiteStore) -> None:
        self.core, self.store = core, store
        self.keys = TypedInput()
        self._out = io.StringIO()
        self.console = Console(file=self._out, soft_wrap=True, highlight=False, force_terminal=False)
        self.task: asyncio.Task | None = None

    @property
    def screen(self) -> str:
        return self._out.getvalue()

    async def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in:\n{self.screen}")
            await asyncio.sleep(0.02)

    def clear(self) -> None:
        self._out.truncate(0)
        self._out.seek(0)

    async def quit(self) -> str:
        self.keys.close()
        await asyncio.wait_for(self.task, 30)
        return self.screen


@contextlib.asynccontextmanager
async def console_session(tmp_path: Path, transcriber: ScriptedTranscriber | None = None):
    """A console session in the test's own event loop (async fixtures run in the session's)."""
    settings = Settings(db_path=tmp_path / "v.db", _env_file=None)
    store = await SQLiteStore.open(settings.db_path)
    core = Voxnote(settings, store, transcriber or ScriptedTranscriber(SEGMENTS, delay=0))
    await core.start()
    s = Session(core, store)
    s.task = asyncio.create_task(run_console(core, stream=s.keys, console=s.console))
    try:
        yield s
    finally:
        if not s.task.done():
            await s.quit()
        await core.stop()
        await store.close()


# --- plain text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    HELP, describe(ChannelSettings(auto_transcribe=False)), PLACEHOLDER, RETRY_HINT,
    failure_text(TranscriptionUnavailable("the engine is down")), "_(continued in the attached transcript.txt)_",
    "`0:03` **Speaker 1**: hello", "*Meeting summary* · 5:18",
])
def test_the_core_text_reaches_the_terminal_without_chat_markup(text):
    shown = plain(text)
    assert "`" not in shown and "**" not in shown and not EMOJI_CODE.search(shown), shown
    assert not re.search(r"(?<!\w)[*_]\S", shown), shown


@pytest.mark.parametrize("text", [
    "meet at 10:30:45, ratio a:b:c", "2 * 3 * 4 = 24", "see my_file_name.ogg", "[bold]not markup[/bold]",
    "an unknown :nosuchemoji: code",
])
def test_transcript_text_that_only_looks_like_markup_is_kept(text):
    assert plain(text) == text


# --- dropped paths ------------------------------------------------------------------------------------


@pytest.fixture
def spaced(tmp_path) -> Path:
    path = tmp_path / "team sync (1).ogg"
    shutil.copy(SAMPLE, path)
    return path


@pytest.mark.parametrize("form", [
    "'{p}'", '"{p}"', "{escaped}", "{p}", "  '{p}' ", "file://{url}",
])
def test_a_path_in_any_form_a_terminal_drops_it(spaced, form):
    escaped = str(spaced).replace(" ", "\\ ").replace("(", "\\(").replace(")", "\\)")
    url = str(spaced).replace(" ", "%20")
    assert paths_in(form.format(p=spaced, escaped=escaped, url=url)) == [spaced]


async def test_dropped_files_are_posted_as_notes(spaced, tmp_path):
    other = tmp_path / "plain.ogg"
    shutil.copy(SAMPLE, other)
    async with console_session(tmp_path) as session:
        session.keys.type(f"'{spaced}' '{other}' ")  # two files dropped at once: two notes
        session.keys.type(str(tmp_path / "missing file.ogg"))
        screen = await session.quit()
    replies = [line for line in screen.splitlines() if line.endswith("Ship the release on Friday.")]
    assert len(replies) == 2 and spaced.name in replies[0] and other.name in replies[1], screen
    assert f"no such file: {tmp_path / 'missing file.ogg'}" in screen
    assert "🎙 Transcribing…" in screen and ":studio_microphone:" not in screen


# --- forget asks first --------------------------------------------------------------------------------


async def test_forget_asks_and_only_yes_deletes(spaced, tmp_path):
    async with console_session(tmp_path) as session:
        session.keys.type(str(spaced))
        await session.wait_for("Ship the release on Friday.")
        await session.core.wait_idle(timeout=10)
        for answer in ("", "n", "nope"):
            session.keys.type("/voxnote forget")
            session.keys.type(answer)
            await session.wait_for(f"[y/N] {answer}\nKept the stored transcripts.")
            session.clear()
        session.keys.type("/voxnote forget")
        session.keys.type("y")
        await session.wait_for("Deleted 1 stored transcript of this channel.")


# --- library logs ---------------------------------------------------------------------------------------


class ChattyTranscriber(ScriptedTranscriber):
    """Logs as the HTTP and engine libraries do while it transcribes."""

    async def stream(self, request):
        logging.getLogger("httpx").info("HTTP Request: POST http://engine/v1/audio/transcriptions")
        logging.getLogger("faster_whisper").info("Processing audio with duration 00:02.000")
        logging.getLogger("faster_whisper").warning("a library warning still shows")
        logging.getLogger("bot.engine.local").info("our own progress line shows")
        async for event in super().stream(request):
            yield event


async def test_library_info_logs_stay_out_of_the_conversation(tmp_path, spaced, caplog):
    settings = Settings(db_path=tmp_path / "v.db", _env_file=None)
    store = await SQLiteStore.open(settings.db_path)
    core = Voxnote(settings, store, ChattyTranscriber(SEGMENTS, delay=0))
    await core.start()
    keys = TypedInput()
    keys.type(str(spaced))
    keys.close()
    with caplog.at_level(logging.INFO):
        await run_console(core, stream=keys, console=Console(file=io.StringIO()))
    await core.stop()
    await store.close()
    shown = [r.getMessage() for r in caplog.records]  # what the handler let through
    assert "a library warning still shows" in shown and "our own progress line shows" in shown
    assert not [m for m in shown if m.startswith(("HTTP Request", "Processing audio"))], shown
    # Outside the console, logging is untouched.
    assert caplog.handler.filters == []


def test_the_real_console_is_plain_and_quiet_and_asks_before_forget(tmp_path, spaced):
    typed = f"/voxnote help\n'{spaced}' \n/voxnote forget\n\n"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("voxnote")), "run"], input=typed, capture_output=True, text=True,
        timeout=180, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_"))},
             "VOXNOTE_DB_PATH": str(tmp_path / "v.db")},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "echo test" in out.lower() and "Kept the stored transcripts." in out
    assert "`" not in out and "*voxnote*" not in out and not EMOJI_CODE.search(out), out
    # faster-whisper's "Processing audio…" and "Detected language…" lines stay out; our own start-up lines stay.
    assert "faster_whisper" not in result.stderr and "running the console adapter" in result.stderr
    # Piped output keeps its lines whole: the long transcript is one line, not cut at 80 columns.
    assert max(len(line) for line in out.splitlines()) > 120
