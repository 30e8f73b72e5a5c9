"""`voxnote run` with faults injected inside the process, for the chaos test: store calls fail at random
(a locked or failing disk), and the Slack message listener raises at random before its notes are stored
(a bug). Every injected error says "injected", so the test can tell them from real ones.

    python -m tests.chaos_faults run      # as `voxnote run`, with VOXNOTE_CHAOS_FAULT_RATE (0.01)
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.slack.app import SlackListeners
from bot.cli import main
from storage.sqlite import SQLiteStore

RATE = float(os.environ.get("VOXNOTE_CHAOS_FAULT_RATE", "0.01"))
rng = random.Random(os.getpid())
# The store methods a note's life goes through; `close` and the migrations are left alone.
STORE_METHODS = ("get_settings", "add_job", "revive_job", "lease_job", "renew_lease", "extras_posted",
                 "mark_extras_posted", "mark_reply_pending", "set_reply", "finish_job", "requeue_job", "get_job",
                 "queued_ahead", "save_transcript", "get_transcript", "remember_notes", "remembered_notes", "hold_job")


def flaky(fn: Callable[..., Awaitable[Any]], what: str) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if rng.random() < RATE:
            raise sqlite3.OperationalError(f"injected: {what} failed")
        return await fn(*args, **kwargs)

    return wrapper


def inject() -> None:
    for name in STORE_METHODS:
        setattr(SQLiteStore, name, flaky(getattr(SQLiteStore, name), f"store.{name}"))
    SlackListeners._on_message = flaky(SlackListeners._on_message, "the message listener")  # type: ignore[method-assign]


if __name__ == "__main__":
    inject()
    sys.exit(main(sys.argv[1:]))
