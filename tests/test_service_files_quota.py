"""`/v1/files` quotas, on the real service: per-key bytes and count (429 `quota_exceeded`, other keys
unaffected), the whole store still 507, a cap on uploads in flight (429 + Retry-After before the body is
read), bytes in flight reserved from the declared Content-Length, and accounting kept in memory: no
directory scan per upload, right after deletes and expiry, and rebuilt from the directory at start."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.service.auth import owner_id
from bot.service.files import FileStore
from tests.fixtures.service import service_settings

SEGMENTS: list = []
ALPHA, BETA = {"Authorization": "Bearer alpha-key"}, {"Authorization": "Bearer beta-key"}
ALPHA_ID, BETA_ID = owner_id("alpha-key"), owner_id("beta-key")
BOUNDARY = "voxnote-quota-test"


def start(service_factory, scripted_transcriber, tmp_path, **overrides):
    return service_factory(service_settings(tmp_path, **overrides), scripted_transcriber(SEGMENTS, delay=0))


def store_of(svc) -> FileStore:
    return svc.app.state.service.store


def upload(svc, size: int, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/files", files={"file": ("note.ogg", b"\1" * size)}, headers=headers, timeout=20)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["object"] == "error" and body["code"] == code and body["message"], body
    return body


def multipart(size: int) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\naudio\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="note.ogg"\r\n'
        "Content-Type: audio/ogg\r\n\r\n"
    ).encode() + b"\2" * size + f"\r\n--{BOUNDARY}--\r\n".encode()


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


class RawUpload:
    """`POST /v1/files` over a bare socket: the headers go at once, the body only when `send()` says so."""

    def __init__(self, svc, size: int, headers: dict | None = None) -> None:
        url = urlsplit(svc.url)
        self.body = multipart(size)
        self.sent = 0
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        lines = [f"POST /v1/files HTTP/1.1", f"Host: {url.netloc}",
                 f"Content-Type: multipart/form-data; boundary={BOUNDARY}", f"Content-Length: {len(self.body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, n: int | None = None) -> None:
        end = len(self.body) if n is None else self.sent + n
        self.sock.sendall(self.body[self.sent : end])
        self.sent = min(end, len(self.body))

    def response(self, timeout: float = 5.0) -> tuple[int, dict[str, str], dict]:
        """The answer (status, headers, JSON body); fails if none comes within `timeout`."""
        self.sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
        while len(rest) < int(headers.get("content-length", "0")):
            rest += self.sock.recv(65536)
        return int(status_line.split()[1]), headers, json.loads(rest or b"null")

    def close(self) -> None:
        self.sock.close()


def test_a_key_over_its_byte_quota_gets_429_while_other_keys_still_upload(
    service_factory, scripted_transcriber, tmp_path
):
    svc = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key",
                files_max_bytes_per_key=10_000, files_max_total_bytes=18_000)
    assert upload(svc, 6000, ALPHA).status_code == 200
    body = assert_error(upload(svc, 6000, ALPHA), 429, "quota_exceeded")
    assert body["param"] == "file" and "10000" in body["message"]
    assert store_of(svc).usage(ALPHA_ID) == (6000, 1)  # the refused file left nothing behind
    # A body the key's room cannot hold is refused from its Content-Length, before a byte of it is sent.
    raw = RawUpload(svc, 100_000, ALPHA)
    status, _, body = raw.response()
    raw.close()
    assert status == 429 and body["code"] == "quota_exceeded"
    # A chunked body (no Content-Length) is held to the quota as it arrives.
    chunked = httpx.post(f"{svc.url}/v1/files", content=iter([multipart(20_000)]), headers={
        **ALPHA, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, timeout=20)
    assert_error(chunked, 429, "quota_exceeded")
    # Alpha being full takes nothing from beta; the store's own cap is still a 507.
    assert upload(svc, 6000, BETA).status_code == 200
    assert upload(svc, 3000, BETA).status_code == 200
    assert upload(svc, 3000, ALPHA).status_code == 200  # alpha: 9000 of 10000; the store: 18000 of 18000
    assert_error(upload(svc, 500, BETA), 507, "store_full")  # beta has room of its own, the store none
    assert store_of(svc).used_bytes == 18_000 and store_of(svc).reserved_bytes == 0


def test_a_key_over_its_file_count_gets_429_and_a_delete_frees_its_place(
    service_factory, scripted_transcriber, tmp_path
):
    svc = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key",
                files_max_count_per_key=3)
    ids = [upload(svc, 10, ALPHA).json()["id"] for _ in range(3)]
    body = assert_error(upload(svc, 10, ALPHA), 429, "quota_exceeded")
    assert "3" in body["message"]
    assert upload(svc, 10, BETA).status_code == 200
    assert httpx.delete(f"{svc.url}/v1/files/{ids[0]}", headers=ALPHA).json()["deleted"] is True
    assert upload(svc, 10, ALPHA).status_code == 200
    assert_error(upload(svc, 10, ALPHA), 429, "quota_exceeded")
    assert store_of(svc).usage(ALPHA_ID) == (30, 3) and store_of(svc).usage(BETA_ID) == (10, 1)


def test_a_delete_frees_byte_quota_and_store_room(service_factory, scripted_transcriber, tmp_path):
    svc = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key",
                files_max_bytes_per_key=10_000, files_max_total_bytes=12_000)
    first = upload(svc, 8000, ALPHA).json()
    assert_error(upload(svc, 8000, ALPHA), 429, "quota_exceeded")
    assert_error(upload(svc, 8000, BETA), 507, "store_full")
    assert httpx.delete(f"{svc.url}/v1/files/{first['id']}", headers=ALPHA).status_code == 200
    assert store_of(svc).used_bytes == 0 and store_of(svc).usage(ALPHA_ID) == (0, 0)
    assert upload(svc, 8000, ALPHA).status_code == 200


def test_expired_files_free_their_quota_when_purged(service_factory, scripted_transcriber, tmp_path):
    # A 4 s lifetime (expires_at is whole seconds: each file goes 3-4 s after its upload), long enough
    # for the second upload to meet the first one on a loaded machine.
    svc = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key",
                files_max_bytes_per_key=10_000, file_ttl_hours=4 / 3600)
    first = upload(svc, 8000, ALPHA).json()
    assert_error(upload(svc, 8000, ALPHA), 429, "quota_exceeded")
    # The service's purge loop (every second here) frees the key's share without any request.
    # The share is freed first and the file unlinked just after, outside the store's lock: wait for both.
    data = tmp_path / "files" / f"{first['id']}.bin"
    wait_until(lambda: store_of(svc).usage(ALPHA_ID) == (0, 0) and not data.exists(), timeout=10)
    assert upload(svc, 8000, ALPHA).status_code == 200


def test_uploads_past_the_concurrency_cap_get_429_before_their_body_is_read(
    service_factory, scripted_transcriber, tmp_path
):
    svc = start(service_factory, scripted_transcriber, tmp_path, files_max_concurrent_uploads=2)
    store = store_of(svc)
    held = [RawUpload(svc, 300_000) for _ in range(2)]
    for raw in held:
        raw.send(1000)  # the body has begun, and stalls
    wait_until(lambda: store.uploads_in_flight == 2)
    # The third declares a body and sends none of it: the answer comes anyway, at once.
    third = RawUpload(svc, 300_000)
    began = time.monotonic()
    status, headers, body = third.response(timeout=5)
    third.close()
    assert status == 429 and body["code"] == "too_many_uploads" and body["type"] == "rate_limit_error"
    assert int(headers["retry-after"]) >= 1 and time.monotonic() - began < 2
    response = upload(svc, 100)
    assert_error(response, 429, "too_many_uploads")
    assert response.headers["Retry-After"]
    # A held upload that finishes is saved; one whose client leaves gives its slot back.
    held[0].send()
    status, _, body = held[0].response()
    assert status == 200 and body["bytes"] == 300_000
    held[1].close()
    wait_until(lambda: store.uploads_in_flight == 0)
    assert store.reserved_bytes == 0 and store.used_bytes == 300_000
    assert upload(svc, 100).status_code == 200
    held[0].close()


def test_bytes_in_flight_count_against_the_store(service_factory, scripted_transcriber, tmp_path):
    svc = start(service_factory, scripted_transcriber, tmp_path, files_max_total_bytes=300_000,
                files_max_bytes_per_key=0)
    store = store_of(svc)
    held = RawUpload(svc, 200_000)
    held.send(50_000)  # spooling: the whole declared size is reserved, not only what arrived
    wait_until(lambda: store.reserved_bytes >= 200_000)
    assert_error(upload(svc, 150_000), 507, "store_full")
    # Declared too big for what is left: refused before any of the body is sent.
    early = RawUpload(svc, 150_000)
    status, _, body = early.response()
    early.close()
    assert status == 507 and body["code"] == "store_full"
    held.send()
    status, _, body = held.response()
    held.close()
    assert status == 200
    assert store.used_bytes == 200_000 and store.reserved_bytes == 0  # settled to the file's real size
    assert upload(svc, 90_000).status_code == 200
    assert_error(upload(svc, 20_000), 507, "store_full")


def test_uploads_do_not_scan_the_store_directory(service_factory, scripted_transcriber, tmp_path, monkeypatch):
    svc = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key")
    files_dir = (tmp_path / "files").resolve()
    for _ in range(20):
        assert upload(svc, 100, ALPHA).status_code == 200
    scans: list[str] = []

    def counted(real, name):
        def wrapper(*args, **kwargs):
            target = args[0] if args else kwargs.get("path", ".")
            try:
                if Path(target).resolve() == files_dir:
                    scans.append(name)
            except (TypeError, OSError):
                pass
            return real(*args, **kwargs)

        return wrapper

    for name in ("glob", "rglob", "iterdir"):
        monkeypatch.setattr(Path, name, counted(getattr(Path, name), f"Path.{name}"))
    monkeypatch.setattr(os, "scandir", counted(os.scandir, "os.scandir"))
    monkeypatch.setattr(os, "listdir", counted(os.listdir, "os.listdir"))
    ids = []
    for i in range(30):
        response = upload(svc, 100 + i, BETA)
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    for file_id in ids[:10]:
        assert httpx.delete(f"{svc.url}/v1/files/{file_id}", headers=BETA).status_code == 200
    assert scans == []
    monkeypatch.undo()
    # ...and the counts in memory are what is on disk.
    on_disk = sum(p.stat().st_size for p in files_dir.glob("file-*.bin"))
    store = store_of(svc)
    assert store.used_bytes == on_disk == 20 * 100 + sum(100 + i for i in range(10, 30))
    assert store.usage(ALPHA_ID) == (2000, 20) and store.usage(BETA_ID).count == 20


def test_accounting_is_rebuilt_from_the_directory_at_start(service_factory, scripted_transcriber, tmp_path):
    first = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key")
    assert upload(first, 4000, ALPHA).status_code == 200
    assert upload(first, 3000, ALPHA).status_code == 200
    assert upload(first, 500, BETA).status_code == 200
    first.stop()
    files_dir = tmp_path / "files"
    orphan = files_dir / f"file-{'a' * 32}.bin"
    orphan.write_bytes(b"\0" * 999)  # a crash between the two writes
    # A restarted service holds alpha to what it already keeps.
    again = start(service_factory, scripted_transcriber, tmp_path, api_keys="alpha-key,beta-key",
                  files_max_bytes_per_key=10_000)
    assert_error(upload(again, 4000, ALPHA), 429, "quota_exceeded")
    assert upload(again, 2000, ALPHA).status_code == 200
    assert len(httpx.get(f"{again.url}/v1/files", headers=ALPHA).json()["data"]) == 3
    assert not orphan.exists()  # left-overs are dropped by the start scan, not counted
    fresh = FileStore(files_dir, max_file_bytes=10**6, max_total_bytes=10**9, ttl_s=3600)
    assert fresh.usage(ALPHA_ID) == (9000, 3) and fresh.usage(BETA_ID) == (500, 1) and fresh.used_bytes == 9500


def test_the_count_quota_counts_uploads_in_flight(service_factory, scripted_transcriber, tmp_path):
    svc = start(service_factory, scripted_transcriber, tmp_path, files_max_count_per_key=10)
    held = RawUpload(svc, 5000)
    held.send(100)
    wait_until(lambda: store_of(svc).uploads_in_flight == 1)
    for _ in range(9):
        assert upload(svc, 10).status_code == 200
    assert_error(upload(svc, 10), 429, "quota_exceeded")  # 9 kept + 1 arriving = 10
    held.send()
    status, _, _ = held.response()
    held.close()
    assert status == 200
    assert store_of(svc).usage("") == (5090, 10)
