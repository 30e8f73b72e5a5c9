"""What the bot keeps: the `Store` interface, its value types, and the backends that implement it.

Storage is a leaf: it knows the shared value types (`bot.models`), never the bot's core."""

from pathlib import Path

from storage.base import Store
from storage.models import Job, JobStatus, StoredTranscript
from storage.sqlite import SQLiteStore

__all__ = ["Job", "JobStatus", "SQLiteStore", "Store", "StoredTranscript", "open_store"]


async def open_store(db_path: str | Path) -> Store:
    """The store the settings name: the SQLite file at `db_path` (the embedded default)."""
    return await SQLiteStore.open(db_path)
