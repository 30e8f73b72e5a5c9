"""The rate budgets the adapters wait on: a moving window never exceeds its count in any period, which a
leaky bucket of the same size does (the reason Discord's fixed windows get a moving window)."""

from __future__ import annotations

import asyncio
import time

from aiolimiter import AsyncLimiter

from bot.pacing import KeyedLimiter, MovingWindow


def most_in_any_window(times: list[float], period: float) -> int:
    return max(sum(1 for t in times if start <= t < start + period) for start in times)


async def acquisitions(limiter, n: int) -> list[float]:
    times = []
    for _ in range(n):
        await limiter.acquire()
        times.append(time.monotonic())
    return times


async def test_moving_window_lets_the_burst_through_then_never_more_than_its_count():
    times = await acquisitions(MovingWindow(5, 0.5), 12)
    assert times[4] - times[0] < 0.05  # the first five at once: a placeholder and the first text do not wait
    assert most_in_any_window(times, 0.5 - 0.01) <= 5


async def test_a_leaky_bucket_of_the_same_size_overshoots_a_fixed_window():
    """Why Discord does not use aiolimiter: 5 per 0.5 s lets ~10 through within 0.5 s."""
    times = await acquisitions(AsyncLimiter(5, 0.5), 12)
    assert most_in_any_window(times, 0.5 - 0.01) > 5


async def test_waiters_are_served_in_order_and_keys_are_separate():
    keyed = KeyedLimiter(2, 0.3, make=lambda: MovingWindow(2, 0.3))
    order: list[int] = []

    async def take(i: int) -> None:
        await keyed("C1").acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    started = time.monotonic()
    await keyed("C2").acquire()  # another channel's budget is untouched
    assert time.monotonic() - started < 0.05
