"""What `voxnote transcribe` shows on stderr while it works, and only when stderr is a terminal: the text
as it is recognised, a progress bar with position, speed and time left for a long recording, and a
"loading the speech model…" line when that takes a moment. A log file or a pipe gets none of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID
from rich.segment import Segment
from rich.text import Text

from bot.render import format_timestamp

#: Recordings at least this long (seconds, as their container declares) get a progress bar.
PROGRESS_FROM_S = 60.0
#: The "loading" line appears only when loading takes longer than this (seconds): a warm cache is silent.
LOADING_NOTICE_AFTER_S = 0.5


class Tail:
    """The last lines of a growing text that fit the terminal above what is shown `below` it (the progress
    bar), so the newest words and the bar stay in view; `full` (set when the view closes) shows all of it."""

    def __init__(self, text: Text, below: RenderableType | None = None) -> None:
        self.text = text
        self.below = below
        self.full = False

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        free = options.update(height=None)
        lines = console.render_lines(self.text, free, pad=False)
        if not self.full:
            reserve = len(console.render_lines(self.below, free, pad=False)) if self.below is not None else 0
            lines = lines[-max(1, options.size.height - reserve):]
        for line in lines:
            yield from line
            yield Segment.line()


class _Info(ProgressColumn):
    """`2:10 of 14:32 · 12.0× real time · 1:05 left`. The engine reports progress in steps (a batch of
    windows at a time), so between two steps the time left counts down from the last estimate."""

    def __init__(self, view: LiveView) -> None:
        super().__init__()
        self.view = view

    def render(self, task: Task) -> Text:
        return Text(self.view.info())


class LiveView:
    """The live view of one transcription: `delta(text)` as words arrive, `reached(seconds)` as segments end.

    `duration` is the recording's declared length (None: unknown, no bar). `transient` clears the view at
    the end, when the result is about to be printed to this same terminal."""

    def __init__(self, console: Console, duration: float | None, *, transient: bool) -> None:
        self.console = console
        self.enabled = console.is_terminal
        self.duration = duration if duration and duration >= PROGRESS_FROM_S else None
        self.text = Text()
        self._started = self._last_step = time.monotonic()
        self._position = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if self.duration:
            self._progress = Progress(BarColumn(bar_width=30), _Info(self), console=console)
            self._task = self._progress.add_task("", total=self.duration)
        self._tail = Tail(self.text, below=self._progress)
        body: RenderableType = Group(self._tail, self._progress) if self._progress else self._tail
        self._live = Live(body, console=console, refresh_per_second=8, transient=transient)

    def __enter__(self) -> LiveView:
        if self.enabled:
            self._started = self._last_step = time.monotonic()
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self._tail.full = True
            self._live.stop()

    def delta(self, text: str) -> None:
        self.text.append(text)

    def reached(self, seconds: float) -> None:
        """The recognition has got this far into the recording."""
        if self._progress is None or self._task is None or self.duration is None:
            return
        self._position = min(max(seconds, self._position), self.duration)
        self._last_step = time.monotonic()
        self._progress.update(self._task, completed=self._position)

    def info(self) -> str:
        """Position, speed (audio seconds per second) and time left, once there is a speed to tell."""
        assert self.duration is not None
        where = f"{format_timestamp(self._position)} of {format_timestamp(self.duration)}"
        took = self._last_step - self._started
        if self._position <= 0 or took <= 0:
            return where
        speed = self._position / took
        left = max(0.0, (self.duration - self._position) / speed - (time.monotonic() - self._last_step))
        return f"{where} · {speed:.1f}× real time · {format_timestamp(left)} left"


async def with_loading_notice(console: Console, load: Callable[[], Awaitable[object]], what: str) -> None:
    """Await `load`; if it takes more than a moment (the first run joins the model), say so on a terminal."""
    started = time.monotonic()
    task = asyncio.ensure_future(load())
    done, _ = await asyncio.wait({task}, timeout=LOADING_NOTICE_AFTER_S)
    if done or not console.is_terminal:
        await task
        return
    with console.status(f"loading {what}…"):
        await task
    console.print(Text(f"loading {what}… done in {time.monotonic() - started:.1f} s", style="dim"))
