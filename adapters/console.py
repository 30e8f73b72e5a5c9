"""The console adapter: `voxnote run` with no platform tokens. Each line on stdin is an audio file path
(a "posted note"; several, quoted or escaped as a file manager's drag and drop writes them) or a
`/voxnote ...` command; replies are printed, as plain text, as they grow."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import mimetypes
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from rich.console import Console
from rich.emoji import Emoji, NoEmoji
from rich.text import Text

from bot.commands import CommandContext
from bot.core import Voxnote
from bot.errors import AudioTooLarge, FetchFailed
from bot.models import AudioNote, MessageRef, Platform

CHANNEL = "console"
#: Loggers of this project: their INFO lines stay in the console, every library's only from WARNING up.
OWN_LOGGERS = ("bot", "adapters", "storage", "voxnote")

# The core writes light markdown for chat (`**bold**`, `*bold*`, `_italic_`, `code`, `:emoji:` codes);
# a terminal would show the markers literally, so the console prints the words alone (bold in a
# terminal, plain when piped). A code stands alone (`10:30:45` and `a:b:c` are none); markers must hug
# their words (`2 * 3 * 4` is no bold, `my_file_name` no italic).
_MARKUP = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>\S(?:.*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<star>\S(?:[^*\n]*?\S)?)\*(?![\w*])"
    r"|(?<!\w)_(?P<italic>\S(?:[^_\n]*?\S)?)_(?!\w)"
    r"|(?<![\w:]):(?P<emoji>[a-z0-9_+-]+):(?![\w:])",
    re.DOTALL,
)
STYLES = {"code": "bold", "bold": "bold", "star": "bold", "italic": "italic"}
FORGET_QUESTION = "Delete every stored transcript of this console channel? [y/N] "


def styled(text: str) -> Text:
    """The core's chat text as a terminal shows it: no markdown markers, emoji codes as emoji.

    A `Text`, so brackets in a transcript are never read as rich markup."""
    out = Text()
    at = 0
    for match in _MARKUP.finditer(text):
        out.append(text[at:match.start()])
        kind = match.lastgroup or ""
        if kind == "emoji":
            try:
                out.append(str(Emoji(match.group(kind))))
            except NoEmoji:  # not an emoji code after all
                out.append(match.group(0))
        else:
            out.append(match.group(kind), style=STYLES[kind])
        at = match.end()
    out.append(text[at:])
    return out


def plain(text: str) -> str:
    """`styled` without the styles: what a pipe or a log receives."""
    return styled(text).plain


def paths_in(line: str) -> list[Path]:
    """The files a line names: a path as typed (spaces and all), or the quoted, backslash-escaped or
    `file://` forms terminals paste when files are dropped on them (several at once are several notes)."""
    line = line.strip()
    if Path(line).expanduser().is_file():
        return [Path(line).expanduser()]
    try:
        words = shlex.split(line)
    except ValueError:  # an unbalanced quote, as in a name like it's.ogg typed bare
        words = [line]
    paths = []
    for word in words:
        if word.startswith("file://"):
            word = unquote(urlparse(word).path)
        paths.append(Path(word).expanduser())
    if len(paths) > 1 and not any(path.is_file() for path in paths):
        return [Path(line).expanduser()]  # one mistyped name with spaces, not several missing files
    return paths


class _LibraryInfoFilter(logging.Filter):
    """The terminal is the conversation: libraries' INFO lines (httpx's requests, faster-whisper's
    "Processing audio…") would interleave with the replies. Their warnings still show; `-v` shows all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        return record.name.split(".", 1)[0] in OWN_LOGGERS


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    # On the handlers: a logger's own filter would not see records propagated from the libraries' loggers.
    handlers = list(logging.getLogger().handlers)
    only_ours = _LibraryInfoFilter()
    for handler in handlers:
        handler.addFilter(only_ours)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(only_ours)


class ConsolePlatform:
    """Prints every post and edit as a line tagged with the note it belongs to."""

    name = "console"
    max_message_chars = 4000
    min_edit_interval = 0.25
    bold = "{}"

    def __init__(self, console: Console | None = None, files: dict[str, Path] | None = None) -> None:
        # soft_wrap: piped output keeps its lines whole instead of being cut at 80 columns.
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._ids = itertools.count(1)
        self._files = files if files is not None else {}

    def say(self, text: str) -> None:
        """Print a reply of the core (a command's answer) as plain text."""
        self.console.print(styled(text))

    def _show(self, ref: MessageRef, text: str) -> None:
        self.console.print(Text.assemble((f"#{ref.thread_id} ", "dim"), styled(text)))

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        ref = MessageRef(platform=Platform.console, channel_id=CHANNEL, message_id=f"r{next(self._ids)}",
                         thread_id=note.message_id)
        self._show(ref, text)
        return ref

    async def edit(self, ref: MessageRef, text: str) -> None:
        self._show(ref, text)

    async def post_in_thread(self, ref: MessageRef, text: str) -> MessageRef:
        new = ref.model_copy(update={"message_id": f"r{next(self._ids)}"})
        self._show(new, text)
        return new

    async def upload(self, ref: MessageRef, filename: str, data: bytes, comment: str = "") -> None:
        self.console.print(Text.assemble((f"#{ref.thread_id} ", "dim"), f"[attachment {filename}, {len(data)} bytes]"))

    async def delete(self, ref: MessageRef) -> None:
        self.console.print(Text.assemble((f"#{ref.thread_id} ", "dim"), "[reply deleted]"))

    async def fetch_audio(self, note: AudioNote, max_bytes: int) -> bytes:
        path = self._files.get(note.attachment_id)
        if path is None:
            raise FetchFailed(f"unknown file {note.filename}")
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise AudioTooLarge(f"{note.filename} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
            return await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FetchFailed(f"can't read {path}: {exc.strerror}") from None

    def note_for(self, path: Path, message_id: str) -> AudioNote:
        self._files[message_id] = path
        return AudioNote(
            platform=Platform.console,
            workspace_id="local",
            channel_id=CHANNEL,
            message_id=message_id,
            author_id="you",
            attachment_id=message_id,
            filename=path.name,
            mime_type=mimetypes.guess_type(path.name)[0],
            size=path.stat().st_size if path.exists() else None,
        )


async def run_console(core: Voxnote, stream=None, console: Console | None = None) -> None:
    """Read paths and commands from stdin until EOF, then wait for the queued notes to finish."""
    platform = ConsolePlatform(console)
    core.register(platform, Platform.console)
    reader = stream or sys.stdin
    platform.say("voxnote console: type (or drop) the path of an audio file to transcribe it, or `/voxnote help`; "
                 "Ctrl-D to quit.")
    counter = itertools.count(1)
    with _quiet_libraries():
        while True:
            line = await asyncio.to_thread(reader.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/voxnote"):
                command = line.removeprefix("/voxnote")
                if command.strip().lower() == "forget" and not await _confirm(platform, reader, FORGET_QUESTION):
                    platform.say("Kept the stored transcripts.")
                    continue
                ctx = CommandContext(Platform.console, "local", CHANNEL, "you", is_admin=True)
                platform.say(await core.run_command(ctx, command))
                continue
            for path in paths_in(line):
                if not path.is_file():
                    platform.console.print(Text(f"no such file: {path}"))
                    continue
                # A fresh id per file: posting the same file twice is two notes, as on a real platform.
                await core.submit(platform.note_for(path, f"n{next(counter)}-{path.name}"), platform, on_demand=True)
        await core.wait_idle(timeout=24 * 3600)


async def _confirm(platform: ConsolePlatform, reader, question: str) -> bool:
    """Ask on the console and read the answer from the same input; only an explicit yes says yes."""
    platform.console.print(Text(question), end="")
    answer = await asyncio.to_thread(reader.readline)
    if not platform.console.is_terminal:
        platform.console.print(Text(answer.strip()))  # piped input: show what was answered
    return answer.strip().lower() in ("y", "yes")
