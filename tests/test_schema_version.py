"""A database that a newer voxnote migrated further than this one knows is refused at start, on both
backends, with one plain line: running on it would write rows that version does not expect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from storage import StoreUnavailable
from storage.migrations import MIGRATIONS
from tests.fixtures.stores import Backend


async def _from_the_future(backend: Backend) -> None:
    await (await backend.open()).close()  # migrated to this version's schema
    future = len(MIGRATIONS) + 3
    if backend.database_url is None:
        await backend.value(f"PRAGMA user_version = {future}")
    else:
        assert await backend.value("UPDATE schema_version SET version = ? RETURNING version", future) == future


async def test_a_newer_schema_is_refused_not_used(backend: Backend) -> None:
    await _from_the_future(backend)
    with pytest.raises(StoreUnavailable, match="newer than this voxnote knows") as refused:
        await backend.open()
    assert "restore the backup" in str(refused.value)


async def test_voxnote_run_says_so_in_one_line(tmp_path) -> None:
    backend = Backend("sqlite", tmp_path / "v.db")
    await _from_the_future(backend)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VOXNOTE_DB_PATH": str(backend.db_path)},
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "VOXNOTE_DB_PATH" in result.stderr and "newer than this voxnote knows" in result.stderr
