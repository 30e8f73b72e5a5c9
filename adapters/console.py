"""The console adapter: `voxnote run` with no platform tokens. Each line on stdin is an audio file path
(a "posted note") or a `/voxnote ...` command; replies are printed as they grow."""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bot.commands import CommandContext
from bot.core import Voxnote
from bot.errors import AudioTooLarge, FetchFailed
from bot.models import AudioNote, MessageRef, Platform

CHANNEL = "console"


class ConsolePlatform:
    """Prints every post and edit as a line tagged with the note it belongs to."""

    name = "console"
    max_message_chars = 4000
    min_edit_interval = 0.25
    bold = "{}"

    def __init__(self, console: Console | None = None, files: dict[str, Path] | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._ids = itertools.count(1)
        self._files = files if files is not None else {}

    def _show(self, ref: MessageRef, text: str) -> None:
        self.console.print(Text.assemble((f"#{ref.thread_id} ", "dim"), text))

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


async def run_console(core: Voxnote, stream=None) -> None:
    """Read paths and commands from stdin until EOF, then wait for the queued notes to finish."""
    platform = ConsolePlatform()
    core.register(platform, Platform.console)
    reader = stream or sys.stdin
    platform.console.print(
        "voxnote console: type the path of an audio file to transcribe it, or `/voxnote help`; Ctrl-D to quit."
    )
    counter = itertools.count(1)
    while True:
        line = await asyncio.to_thread(reader.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/voxnote"):
            ctx = CommandContext(Platform.console, "local", CHANNEL, "you", is_admin=True)
            platform.console.print(await core.run_command(ctx, line.removeprefix("/voxnote")))
            continue
        path = Path(line).expanduser()
        if not path.is_file():
            platform.console.print(f"no such file: {path}")
            continue
        # A fresh id per line: posting the same file twice is two notes, as on a real platform.
        await core.submit(platform.note_for(path, f"n{next(counter)}-{path.name}"), platform, on_demand=True)
    await core.wait_idle(timeout=24 * 3600)
