"""`/v1/files` storage: uploaded audio on disk, one `<id>.bin` + `<id>.json` pair each, capped and expiring."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ValidationError

from bot.errors import AudioTooLarge, EmptyAudio, VoxnoteError

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
# Ids are ours (uuid4 hex with a prefix): anything else is refused before it can name a path.
ID_RE = re.compile(r"^file-[0-9a-f]{32}$")


class FileNotFound(VoxnoteError):
    user_message = "no such file"


class StoreFull(VoxnoteError):
    user_message = "the file store is full"


class StoredFile(BaseModel):
    """What we keep about an upload; `public()` is the Mistral file object the SDK parses."""

    id: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int
    purpose: str = "audio"
    mimetype: str | None = None
    owner: str = ""

    def public(self, deleted: bool | None = None) -> dict[str, object]:
        body: dict[str, object] = {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "sample_type": "instruct",
            "source": "upload",
            "num_lines": None,
            "mimetype": self.mimetype,
            "expires_at": self.expires_at,
        }
        if deleted is not None:
            body["deleted"] = deleted
        return body


class FileStore:
    """Files on disk; each owner (API key) sees only its own. Blocking I/O runs in worker threads."""

    def __init__(self, root: Path, *, max_file_bytes: int, max_total_bytes: int, ttl_s: float) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.ttl_s = ttl_s
        self._write_lock = asyncio.Lock()

    def _paths(self, file_id: str) -> tuple[Path, Path]:
        if not ID_RE.fullmatch(file_id):
            raise FileNotFound(f"no file with id {file_id!r}")
        return self.root / f"{file_id}.bin", self.root / f"{file_id}.json"

    async def save(
        self, source: BinaryIO, *, filename: str, purpose: str, mimetype: str | None, owner: str
    ) -> StoredFile:
        """Copy an upload in; refuses empty files, files over the cap, and uploads that would overfill the store."""
        async with self._write_lock:
            return await asyncio.to_thread(self._save, source, filename, purpose, mimetype, owner)

    def _save(self, source: BinaryIO, filename: str, purpose: str, mimetype: str | None, owner: str) -> StoredFile:
        self.root.mkdir(parents=True, exist_ok=True)
        self._purge()
        file_id = f"file-{uuid.uuid4().hex}"
        data_path, meta_path = self._paths(file_id)
        room = min(self.max_file_bytes, self.max_total_bytes - self._used_bytes())
        tmp = data_path.with_suffix(".part")
        size = 0
        try:
            with tmp.open("wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_file_bytes:
                        raise AudioTooLarge(f"the file is larger than {self.max_file_bytes} bytes")
                    if size > room:
                        raise StoreFull("the file store is full; delete files or wait for old ones to expire")
                    out.write(chunk)
            if size == 0:
                raise EmptyAudio("the uploaded file is empty")
            now = int(time.time())
            stored = StoredFile(
                id=file_id,
                filename=Path(filename or "audio").name,
                bytes=size,
                created_at=now,
                expires_at=now + int(self.ttl_s),
                purpose=purpose,
                mimetype=mimetype,
                owner=owner,
            )
            os.replace(tmp, data_path)
            meta_path.write_text(stored.model_dump_json())
            return stored
        finally:
            tmp.unlink(missing_ok=True)

    def _used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("file-*.bin"))

    def _load(self, meta_path: Path) -> StoredFile | None:
        try:
            return StoredFile.model_validate_json(meta_path.read_bytes())
        except (OSError, ValidationError):
            return None

    def _get(self, file_id: str, owner: str) -> StoredFile:
        data_path, meta_path = self._paths(file_id)
        stored = self._load(meta_path)
        if stored is None or stored.owner != owner or not data_path.exists():
            raise FileNotFound(f"no file with id {file_id!r}")
        if stored.expires_at <= time.time():
            self._remove(file_id)
            raise FileNotFound(f"file {file_id!r} has expired")
        return stored

    async def get(self, file_id: str, owner: str) -> StoredFile:
        return await asyncio.to_thread(self._get, file_id, owner)

    async def read(self, file_id: str, owner: str) -> tuple[StoredFile, bytes]:
        def read() -> tuple[StoredFile, bytes]:
            stored = self._get(file_id, owner)
            return stored, self._paths(file_id)[0].read_bytes()

        return await asyncio.to_thread(read)

    async def list(self, owner: str) -> list[StoredFile]:
        def scan() -> list[StoredFile]:
            now = time.time()
            found = [s for p in self.root.glob("file-*.json") if (s := self._load(p)) is not None]
            return sorted((s for s in found if s.owner == owner and s.expires_at > now), key=lambda s: -s.created_at)

        return await asyncio.to_thread(scan)

    async def delete(self, file_id: str, owner: str) -> StoredFile:
        def delete() -> StoredFile:
            stored = self._get(file_id, owner)
            self._remove(file_id)
            return stored

        return await asyncio.to_thread(delete)

    def _remove(self, file_id: str) -> None:
        data_path, meta_path = self._paths(file_id)
        data_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)

    async def purge_expired(self) -> int:
        """Delete expired files (and orphans from a crash mid-upload); returns how many went."""
        async with self._write_lock:
            removed = await asyncio.to_thread(self._purge)
        if removed:
            log.info("purged %d expired file(s)", removed)
        return removed

    def _purge(self) -> int:
        # Runs under the write lock, so a half-saved upload is never taken for an orphan.
        if not self.root.exists():
            return 0
        now = time.time()
        removed = 0
        for meta_path in self.root.glob("file-*.json"):
            stored = self._load(meta_path)
            if stored is None or stored.expires_at <= now:
                self._remove(meta_path.stem)
                removed += 1
        for data_path in self.root.glob("file-*.bin"):
            if not data_path.with_suffix(".json").exists():
                data_path.unlink(missing_ok=True)
        for part_path in self.root.glob("file-*.part"):
            if now - part_path.stat().st_mtime > 3600:
                part_path.unlink(missing_ok=True)
        return removed
