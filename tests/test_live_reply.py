"""The throttled editor: never faster than the interval, only the latest text, final always delivered."""

import asyncio
import time

from bot.live_reply import LiveReply


class Sink:
    def __init__(self, fail: int = 0) -> None:
        self.edits: list[tuple[float, str]] = []
        self.fail = fail

    async def __call__(self, text: str) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("429")
        self.edits.append((time.monotonic(), text))


def gaps(sink: Sink) -> list[float]:
    times = [t for t, _ in sink.edits]
    return [b - a for a, b in zip(times, times[1:])]


async def test_coalesces_bursts_and_respects_interval():
    sink = Sink()
    live = LiveReply(sink, min_interval=0.2, max_chars=1000)
    for i in range(50):  # 50 deltas in ~1 s
        live.append(f" w{i}")
        await asyncio.sleep(0.02)
    await live.finish("FINAL")
    assert 3 <= len(sink.edits) <= 1 / 0.2 + 2  # far fewer edits than deltas
    assert all(g >= 0.2 - 0.01 for g in gaps(sink)[:-1])  # between partials; the final does not wait
    assert sink.edits[-1][1] == "FINAL"
    partials = [t for _, t in sink.edits[:-1]]
    assert all(t.endswith(" …") for t in partials)
    assert "w49" not in partials[0] and "w0" in partials[0]


async def test_first_text_and_final_go_at_once():
    """What users wait for: the first recognised words and the complete text. Neither waits for the pace
    between partials (the adapter waits for the platform's budget, nothing else)."""
    sink = Sink()
    live = LiveReply(sink, min_interval=0.3, max_chars=1000)
    started = time.monotonic()
    live.append("hello")
    await asyncio.sleep(0.05)
    await live.finish("hello world")
    assert [t for _, t in sink.edits] == ["hello …", "hello world"]
    assert sink.edits[0][0] - started < 0.03
    assert gaps(sink)[0] < 0.1  # the old LiveReply held the final 0.3 s after the partial


async def test_final_delivered_even_when_edits_fail():
    sink = Sink(fail=2)
    live = LiveReply(sink, min_interval=0.01, max_chars=1000)
    live.append("lost partial")
    await asyncio.sleep(0.05)
    await live.finish("done")
    assert sink.edits[-1][1] == "done"


async def test_partial_shows_newest_words_within_limit():
    sink = Sink()
    live = LiveReply(sink, min_interval=0.01, max_chars=60, header="Transcribing…")
    live.append(" ".join(f"word{i}" for i in range(100)))
    await asyncio.sleep(0.05)
    await live.aclose()
    text = sink.edits[-1][1]
    assert len(text) <= 60 and text.startswith("Transcribing…\n…") and "word99" in text


async def test_no_edit_when_nothing_changed():
    sink = Sink()
    live = LiveReply(sink, min_interval=0.01, max_chars=100)
    await asyncio.sleep(0.05)
    await live.finish("only final")
    assert [t for _, t in sink.edits] == ["only final"]


async def test_partials_leave_the_last_edit_of_a_busy_budget_to_a_final():
    """In a busy channel a partial waits while only one edit is left, so another note's final is not held
    up behind it; the first text still takes that last edit (it is what the user waits for)."""
    sink = Sink()
    budget = {"left": 1}
    live = LiveReply(sink, min_interval=0.05, max_chars=1000, budget=lambda: budget["left"])
    live.append("first")
    await asyncio.sleep(0.1)
    assert [t for _, t in sink.edits] == ["first …"]
    live.append(" second")
    await asyncio.sleep(0.3)
    assert len(sink.edits) == 1  # held: one edit left
    budget["left"] = 2
    await asyncio.sleep(0.25)
    assert [t for _, t in sink.edits] == ["first …", "first second …"]
    budget["left"] = 0
    live.append(" third")
    await live.finish("first second third")  # the final never waits for the hint
    assert sink.edits[-1][1] == "first second third"


async def test_a_long_note_shows_how_far_recognition_has_got_until_the_final():
    sink = Sink()
    live = LiveReply(sink, min_interval=0.05, max_chars=1000, header="Transcribing…")
    live.set_duration(14 * 60 + 32)
    live.append("First part.")
    live.reached(130)
    await asyncio.sleep(0.15)
    live.reached(20)  # segments never move it back
    live.append(" Second part.")
    live.reached(605.4)
    await asyncio.sleep(0.15)
    await live.finish("First part. Second part. The end.")
    texts = [t for _, t in sink.edits]
    assert texts[0].startswith("Transcribing… ⏳ 2:10 of 14:32\nFirst part.")
    assert any(t.startswith("Transcribing… ⏳ 10:05 of 14:32\n") for t in texts)
    assert "⏳" not in texts[-1]  # the final text replaces it


async def test_short_notes_and_unknown_lengths_show_no_progress():
    for duration in (None, 95.0):
        sink = Sink()
        live = LiveReply(sink, min_interval=0.05, max_chars=1000, header="Transcribing…")
        live.set_duration(duration)
        live.append("Hello.")
        live.reached(60)
        await asyncio.sleep(0.12)
        await live.finish("Hello.")
        assert all("⏳" not in t for _, t in sink.edits)


def test_clock_reads_like_a_player():
    from bot.live_reply import clock

    assert clock(130) == "2:10" and clock(5) == "0:05" and clock(3730.9) == "1:02:10"
