"""What the bot keeps: the `Store` interface, its value types, and the backends that implement it.

Storage is a leaf: it knows the shared value types (`bot.models`), never the bot's core."""

from pathlib import Path

from storage.base import Store, StoreUnavailable
from storage.models import Job, JobStatus, StoredTranscript, TranscriptHit, Voiceprint
from storage.sqlite import SQLiteStore

__all__ = ["Job", "JobStatus", "SQLiteStore", "Store", "StoreUnavailable", "StoredTranscript", "TranscriptHit",
           "Voiceprint", "open_store"]


async def open_store(db_path: str | Path, database_url: str | None = None) -> Store:
    """The store the settings name: PostgreSQL when `database_url` is set (then no SQLite file is made),
    else the SQLite file at `db_path` (the embedded default)."""
    if database_url:
        # Imported here: a SQLite deployment never loads psycopg.
        from storage.postgres import PostgresStore

        return await PostgresStore.open(database_url)
    return await SQLiteStore.open(db_path)
