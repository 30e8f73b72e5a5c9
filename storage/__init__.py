"""SQLite persistence (aiosqlite): channel settings, the durable job queue, transcripts."""

from storage.store import Job, JobStatus, Store, StoredTranscript

__all__ = ["Job", "JobStatus", "Store", "StoredTranscript"]
