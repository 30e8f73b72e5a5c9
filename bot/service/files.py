"""`/v1/files` storage: uploaded audio on disk, one `<id>.bin` + `<id>.json` pair each, capped and expiring.

What the store holds is counted in memory: the directory is scanned once, when the store is built, and
every save, delete and expiry then updates the counts in O(1) (expiry through a heap ordered by
`expires_at`), so an upload never lists the directory. One service per files directory: a second
process writing into the same one would not be counted.

Uploads in flight are counted too. `begin_upload` runs before the request body is read: it takes one of
the concurrency slots, one file of the key's count quota, and reserves the declared body size against
the key's byte quota and the store's room (the multipart body is spooled to a temporary file while it
arrives, and those bytes are on disk as well). Once the body is in, `save` settles the reservation to
the file's real size, checks it exactly, and copies the file in."""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pydantic import BaseModel, ValidationError

from bot.errors import AudioTooLarge, EmptyAudio, VoxnoteError

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
# Ids are ours (uuid4 hex with a prefix): anything else is refused before it can name a path.
ID_RE = re.compile(r"^file-[0-9a-f]{32}$")
# Multipart framing around the file part (boundaries, part headers, the `purpose` field). A declared body
# is refused up front only when even its size less this much cannot fit; the exact check is on the file.
FORM_SLACK = 16 * 1024
# `.part` files older than this found at start are left over from a crash.
STALE_PART_S = 3600.0
# Uploads free their slot as fast as their bytes arrive: a short wait is the honest suggestion.
BUSY_RETRY_AFTER_S = 1
STORE_FULL = "the file store is full; delete files or wait for old ones to expire"


class FileNotFound(VoxnoteError):
    user_message = "no such file"


class StoreFull(VoxnoteError):
    user_message = "the file store is full"


class QuotaExceeded(VoxnoteError):
    """The key's own share (bytes or file count) is used up; other keys may still upload."""

    user_message = "this key's file quota is used up"


class UploadsBusy(VoxnoteError):
    """Every upload slot is taken; `retry_after` is in whole seconds."""

    user_message = "too many uploads at once"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UploadQuota:
    """The per-upload policy (from Settings); 0 means no limit."""

    max_bytes_per_key: int = 0
    max_count_per_key: int = 0
    max_concurrent: int = 0


class Usage(NamedTuple):
    bytes: int
    count: int


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


@dataclass
class _Owner:
    """One key's share: its stored files, their bytes, and its uploads in flight with their reservations."""

    files: dict[str, StoredFile] = field(default_factory=dict)
    bytes: int = 0
    uploads: int = 0
    reserved: int = 0

    def empty(self) -> bool:
        return not self.files and not self.uploads


class Upload:
    """One upload in flight, from `begin_upload` until `save` commits it or `release()` gives it back.

    `allowance` is how many body bytes it may send (its reservation); `reserved` what it holds now."""

    def __init__(
        self, store: FileStore, owner: str, reserved: int, quota: UploadQuota, overflow: VoxnoteError
    ) -> None:
        self.store = store
        self.owner = owner
        self.reserved = reserved
        self.allowance = reserved
        self.quota = quota
        self.file_id = f"file-{uuid.uuid4().hex}"
        self.done = False
        #: The error for a body that sends more than `allowance` bytes.
        self.overflow = overflow

    def release(self) -> None:
        """Give back the slot and the reservation (a no-op once saved or released)."""
        self.store._release(self)


class FileStore:
    """Files on disk; each owner (API key) sees only its own. Blocking I/O runs in worker threads."""

    def __init__(self, root: Path, *, max_file_bytes: int, max_total_bytes: int, ttl_s: float) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.ttl_s = ttl_s
        # Guards the counts below; held only for O(1) updates (and heap pops), from the loop or a thread.
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._owners: dict[str, _Owner] = {}
        self._used = 0  # bytes of stored files
        self._reserved = 0  # bytes reserved by uploads in flight
        self._uploads = 0
        self._expiry: list[tuple[int, str]] = []  # heap; entries of deleted files are skipped when popped
        self._scan()

    # --- accounting ---------------------------------------------------------------------------

    @property
    def used_bytes(self) -> int:
        return self._used

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    @property
    def uploads_in_flight(self) -> int:
        return self._uploads

    def usage(self, owner: str) -> Usage:
        """What one key's stored files add up to."""
        with self._lock:
            share = self._owners.get(owner)
            return Usage(share.bytes, len(share.files)) if share else Usage(0, 0)

    def _share(self, owner: str) -> _Owner:
        share = self._owners.get(owner)
        if share is None:
            share = self._owners[owner] = _Owner()
        return share

    def _tidy(self, owner: str) -> None:
        share = self._owners.get(owner)
        if share is not None and share.empty():
            del self._owners[owner]

    def _add(self, stored: StoredFile, size: int) -> None:
        # Under the lock. `size` is what the data file takes on disk.
        stored = stored.model_copy(update={"bytes": size}) if stored.bytes != size else stored
        self._files[stored.id] = stored
        share = self._share(stored.owner)
        share.files[stored.id] = stored
        share.bytes += size
        self._used += size
        heapq.heappush(self._expiry, (stored.expires_at, stored.id))

    def _forget(self, file_id: str) -> StoredFile | None:
        # Under the lock: drop one file from the counts; None when it was not (or no longer) counted.
        stored = self._files.pop(file_id, None)
        if stored is None:
            return None
        share = self._owners[stored.owner]
        del share.files[file_id]
        share.bytes -= stored.bytes
        self._used -= stored.bytes
        self._tidy(stored.owner)
        return stored

    def _scan(self) -> None:
        """The one directory scan: count what is kept, delete what expired or was left half-written."""
        if not self.root.is_dir():
            return
        now = time.time()
        metas: list[Path] = []
        datas: set[str] = set()
        for path in self.root.iterdir():
            stem, suffix = path.stem, path.suffix
            if not ID_RE.fullmatch(stem):
                continue
            if suffix == ".json":
                metas.append(path)
            elif suffix == ".bin":
                datas.add(stem)
            elif suffix == ".part":
                try:
                    if now - path.stat().st_mtime > STALE_PART_S:
                        path.unlink(missing_ok=True)
                except OSError:
                    pass
        removed = 0
        for meta_path in metas:
            datas.discard(meta_path.stem)
            stored = self._load(meta_path)
            try:
                if stored is None or stored.id != meta_path.stem or stored.expires_at <= now:
                    raise FileNotFoundError(meta_path.stem)
                size = meta_path.with_suffix(".bin").stat().st_size  # no data: a crash mid-save
            except OSError:
                self._unlink(meta_path.stem)
                removed += 1
                continue
            self._add(stored, size)
        for orphan in datas:  # data without metadata: a crash between the two writes
            (self.root / f"{orphan}.bin").unlink(missing_ok=True)
        if removed:
            log.info("removed %d expired or incomplete file(s) at start", removed)

    # --- uploads ------------------------------------------------------------------------------

    async def begin_upload(self, owner: str, declared: int | None, quota: UploadQuota) -> Upload:
        """Admit one upload before its body is read, or refuse it at once.

        `declared` is the request's Content-Length (None: chunked); it is reserved whole, and refused
        when it cannot fit the key's quota or the store. Raises `UploadsBusy`, `QuotaExceeded`, `StoreFull`."""
        if self._next_expiry() <= time.time():
            await asyncio.to_thread(self._expire_due)  # expired files free their room first
        with self._lock:
            if quota.max_concurrent and self._uploads >= quota.max_concurrent:
                raise UploadsBusy(
                    f"{self._uploads} uploads are already in progress (the limit); retry in {BUSY_RETRY_AFTER_S} s",
                    retry_after=BUSY_RETRY_AFTER_S,
                )
            share = self._owners.get(owner) or _Owner()
            if quota.max_count_per_key and len(share.files) + share.uploads >= quota.max_count_per_key:
                raise QuotaExceeded(
                    f"this key already keeps {len(share.files)} file(s) (and {share.uploads} upload(s) in progress); "
                    f"its limit is {quota.max_count_per_key}: delete files or wait for old ones to expire"
                )
            key_room = (
                quota.max_bytes_per_key - share.bytes - share.reserved if quota.max_bytes_per_key else None
            )
            store_room = self.max_total_bytes - self._used - self._reserved
            # What a body that outgrows its reservation is told (only a chunked one can: h11 holds a
            # declared body to its Content-Length).
            overflow: VoxnoteError = AudioTooLarge(f"the file is larger than {self.max_file_bytes} bytes")
            if declared is not None:
                need, reserve = max(1, declared - FORM_SLACK), declared
            else:  # chunked: as much as may fit, enforced while the body arrives
                need, reserve = 1, self.max_file_bytes
                if store_room < reserve:
                    reserve, overflow = store_room, StoreFull(STORE_FULL)
                if key_room is not None and key_room < reserve:
                    reserve = key_room
                    overflow = QuotaExceeded(f"this key's files would pass its {quota.max_bytes_per_key}-byte quota: "
                                             "delete files or wait for old ones to expire")
                reserve = max(0, reserve) + FORM_SLACK
            if key_room is not None and need > key_room:
                raise QuotaExceeded(self._quota_message(share.bytes + share.reserved, quota, need))
            if need > store_room:
                raise StoreFull(STORE_FULL)
            upload = Upload(self, owner, reserve, quota, overflow)
            share = self._share(owner)
            share.uploads += 1
            share.reserved += reserve
            self._uploads += 1
            self._reserved += reserve
            return upload

    @staticmethod
    def _quota_message(held: int, quota: UploadQuota, size: int) -> str:
        return (
            f"this key's files use {held} of its {quota.max_bytes_per_key} bytes; {size} more do not fit: "
            "delete files or wait for old ones to expire"
        )

    def _settle(self, upload: Upload, size: int) -> None:
        """Swap the upload's reservation for its real size, checked exactly against quota and room."""
        with self._lock:
            if upload.done:
                raise RuntimeError("this upload was already saved or released")
            share = self._owners[upload.owner]
            others = share.reserved - upload.reserved
            limit = upload.quota.max_bytes_per_key
            if limit and share.bytes + others + size > limit:
                raise QuotaExceeded(self._quota_message(share.bytes + others, upload.quota, size))
            if self._used + (self._reserved - upload.reserved) + size > self.max_total_bytes:
                raise StoreFull(STORE_FULL)
            share.reserved += size - upload.reserved
            self._reserved += size - upload.reserved
            upload.reserved = size

    def _release(self, upload: Upload, stored: StoredFile | None = None) -> None:
        with self._lock:
            if upload.done:
                return
            upload.done = True
            if stored is not None:
                self._add(stored, stored.bytes)
            share = self._owners[upload.owner]
            share.uploads -= 1
            share.reserved -= upload.reserved
            self._uploads -= 1
            self._reserved -= upload.reserved
            self._tidy(upload.owner)

    async def save(
        self,
        source: BinaryIO,
        *,
        filename: str,
        purpose: str,
        mimetype: str | None,
        owner: str,
        upload: Upload,
    ) -> StoredFile:
        """Copy an upload in; refuses empty files, files over the cap, over the key's quota or the store's room.

        `upload` comes from `begin_upload`; the caller releases it whatever happens."""
        if upload.owner != owner:
            raise ValueError("the upload was begun for another owner")
        size = _remaining(source)
        if size == 0:
            raise EmptyAudio("the uploaded file is empty")
        if size > self.max_file_bytes:
            raise AudioTooLarge(f"the file is larger than {self.max_file_bytes} bytes")
        self._settle(upload, size)
        now = int(time.time())
        stored = StoredFile(
            id=upload.file_id,
            filename=Path(filename or "audio").name,
            bytes=size,
            created_at=now,
            expires_at=now + int(self.ttl_s),
            purpose=purpose,
            mimetype=mimetype,
            owner=owner,
        )
        await asyncio.to_thread(self._write, source, stored, upload)
        return stored

    def _write(self, source: BinaryIO, stored: StoredFile, upload: Upload) -> None:
        # Committed here, in the thread: a request cancelled meanwhile still leaves a counted file.
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(stored.id)
        tmp = data_path.with_suffix(".part")
        written = 0
        try:
            with tmp.open("wb") as out:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > stored.bytes:  # the source grew after it was measured
                        raise AudioTooLarge(f"the file is larger than the {stored.bytes} bytes it was admitted with")
                    out.write(chunk)
            if written != stored.bytes:
                raise OSError(f"short copy: {written} of {stored.bytes} bytes")
            # Metadata first: a crash before the rename leaves a `.json` alone, which the start scan drops.
            meta_path.write_text(stored.model_dump_json())
            try:
                os.replace(tmp, data_path)
            except BaseException:
                meta_path.unlink(missing_ok=True)
                raise
            self._release(upload, stored)
        finally:
            tmp.unlink(missing_ok=True)

    # --- reading and deleting -----------------------------------------------------------------

    def _paths(self, file_id: str) -> tuple[Path, Path]:
        if not ID_RE.fullmatch(file_id):
            raise FileNotFound(f"no file with id {file_id!r}")
        return self.root / f"{file_id}.bin", self.root / f"{file_id}.json"

    def _load(self, meta_path: Path) -> StoredFile | None:
        try:
            return StoredFile.model_validate_json(meta_path.read_bytes())
        except (OSError, ValidationError):
            return None

    def _get(self, file_id: str, owner: str) -> StoredFile:
        data_path, _ = self._paths(file_id)
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None or stored.owner != owner:
            raise FileNotFound(f"no file with id {file_id!r}")
        if stored.expires_at <= time.time():
            self._remove(file_id)
            raise FileNotFound(f"file {file_id!r} has expired")
        if not data_path.exists():  # removed behind our back: stop counting it
            self._remove(file_id)
            raise FileNotFound(f"no file with id {file_id!r}")
        return stored

    async def get(self, file_id: str, owner: str) -> StoredFile:
        return await asyncio.to_thread(self._get, file_id, owner)

    async def read(self, file_id: str, owner: str) -> tuple[StoredFile, bytes]:
        def read() -> tuple[StoredFile, bytes]:
            stored = self._get(file_id, owner)
            return stored, self._paths(file_id)[0].read_bytes()

        return await asyncio.to_thread(read)

    async def list(self, owner: str) -> list[StoredFile]:
        now = time.time()
        with self._lock:
            share = self._owners.get(owner)
            found = list(share.files.values()) if share else []
        return sorted((s for s in found if s.expires_at > now), key=lambda s: -s.created_at)

    async def delete(self, file_id: str, owner: str) -> StoredFile:
        def delete() -> StoredFile:
            stored = self._get(file_id, owner)
            self._remove(file_id)
            return stored

        return await asyncio.to_thread(delete)

    def _remove(self, file_id: str) -> None:
        with self._lock:
            self._forget(file_id)
        self._unlink(file_id)

    def _unlink(self, file_id: str) -> None:
        data_path, meta_path = self._paths(file_id)
        try:
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete %s: %s", file_id, exc)

    # --- expiry -------------------------------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete expired files; returns how many went. Pops the expiry heap: no directory scan."""
        removed = await asyncio.to_thread(self._expire_due)
        if removed:
            log.info("purged %d expired file(s)", removed)
        return removed

    def _next_expiry(self) -> float:
        with self._lock:
            return self._expiry[0][0] if self._expiry else float("inf")

    def _expire_due(self) -> int:
        now = time.time()
        gone: list[str] = []
        with self._lock:
            while self._expiry and self._expiry[0][0] <= now:
                expires_at, file_id = heapq.heappop(self._expiry)
                stored = self._files.get(file_id)
                if stored is not None and stored.expires_at == expires_at:
                    self._forget(file_id)
                    gone.append(file_id)
        for file_id in gone:
            self._unlink(file_id)
        return len(gone)


def _remaining(source: BinaryIO) -> int:
    """Bytes from the current position to the end (the upload is spooled: seeking is cheap)."""
    here = source.tell()
    end = source.seek(0, os.SEEK_END)
    source.seek(here)
    return end - here
