"""Row <-> `Voiceprint` for both stores: the embedding travels as float32 bytes (what the table holds)."""

from __future__ import annotations

import sys
from array import array
from typing import Any

from bot.models import Platform
from storage.models import Voiceprint


def name_key(name: str) -> str:
    """Names are one per workspace whatever their case: "Alice" and "alice" are one enrolment."""
    return " ".join(name.split()).casefold()


def pack_embedding(embedding: list[float]) -> bytes:
    """float32, little-endian: 1 KiB for a 256-d voiceprint."""
    values = array("f", embedding)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def unpack_embedding(data: bytes) -> list[float]:
    values = array("f")
    values.frombytes(bytes(data))
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def voiceprint_row(voice: Voiceprint, created_at: float) -> tuple[Any, ...]:
    """The INSERT's values, in the table's column order."""
    return (voice.platform.value, voice.workspace_id, voice.name, name_key(voice.name),
            pack_embedding(voice.embedding), voice.user_id, voice.enrolled_by, voice.consented_by,
            voice.channel_id, voice.source_key, created_at)


def voiceprint_from_row(row: Any) -> Voiceprint:
    """From a row of either driver (aiosqlite.Row or psycopg's dict row: both index by column name)."""
    return Voiceprint(
        platform=Platform(row["platform"]), workspace_id=row["workspace_id"], name=row["name"],
        embedding=unpack_embedding(row["embedding"]), user_id=row["user_id"], enrolled_by=row["enrolled_by"],
        consented_by=row["consented_by"], channel_id=row["channel_id"], source_key=row["source_key"],
        created_at=row["created_at"],
    )
