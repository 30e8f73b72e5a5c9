"""Request intake: what a request must pass before the service spends memory, time or a slot on it.

In order, before a byte of the body is read: the API key (a stranger gets 401 and nothing is read), the
declared Content-Length against the path's cap (413), and the bytes every request together may hold in
memory (429 with Retry-After). While the body arrives it is counted again (a chunked body declares
nothing) and must keep up a minimum rate after a short grace period (408), so a client trickling a byte a
second cannot hold memory or a connection for long. Engine slots are not involved: the transcription
route takes one only once the audio is in hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.service.api_errors import ApiError
from bot.service.auth import check_bearer

log = logging.getLogger(__name__)

# A client a little over the cap still gets its 413 (instead of a reset) if it sends this much more.
DRAIN_LIMIT = 1024 * 1024
UPLOAD_PATHS = ("/v1/audio/transcriptions", "/v1/files")


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


class BodyTooSlow(Exception):
    def __init__(self, min_rate: int) -> None:
        super().__init__(f"the request body arrived slower than {min_rate} bytes/s")
        self.min_rate = min_rate


class MemoryBusy(Exception):
    """Taking these bytes would put the service over its in-memory budget; `retry_after` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the service holds as much audio as it may right now; retry in {retry_after} s")
        self.retry_after = retry_after


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than the {limit}-byte limit", code="file_too_large", param="file")


def too_slow(min_rate: int) -> ApiError:
    return ApiError(408, f"the request body arrived too slowly (under {min_rate} bytes/s); send it again",
                    code="body_too_slow", param="file")


def memory_busy(exc: MemoryBusy) -> ApiError:
    return ApiError(429, str(exc), type="rate_limit_error", code="busy", headers={"Retry-After": str(exc.retry_after)})


@dataclass
class ByteBudget:
    """Bytes of audio all requests together may hold in memory (bodies, downloads, stored files read back)."""

    limit: int
    used: int = 0
    retry_after_s: int = 5

    def take(self, n: int) -> None:
        if self.used + n > self.limit:
            raise MemoryBusy(self.retry_after_s)
        self.used += n

    def give(self, n: int) -> None:
        self.used = max(0, self.used - n)


@dataclass
class Reservation:
    """One request's share of the budget; given back whole when the request ends (answer sent or not)."""

    budget: ByteBudget
    held: int = 0

    def take(self, n: int) -> None:
        self.budget.take(n)
        self.held += n

    def cover(self, total: int) -> None:
        """Make sure `total` bytes are held: a declared size taken up front is not counted twice."""
        if total > self.held:
            self.take(total - self.held)

    def release(self) -> None:
        self.budget.give(self.held)
        self.held = 0


def reservation_of(scope: Scope) -> Reservation | None:
    return scope.get("state", {}).get("voxnote_bytes")  # type: ignore[no-any-return]


class Intake:
    """ASGI middleware; `budget` covers only the transcription route (`/v1/files` spools to disk)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_limit: int,
        api_keys: list[str],
        budget: ByteBudget,
        min_rate: int,
        grace_s: float,
        other_limit: int = 1024 * 1024,
    ) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.other_limit = other_limit
        self.api_keys = api_keys
        self.budget = budget
        self.min_rate = min_rate
        self.grace_s = grace_s

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.rstrip("/") in UPLOAD_PATHS else self.other_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = dict(scope["headers"])
        if path.startswith("/v1/") and self.api_keys:
            authorization = headers.get(b"authorization")
            try:
                check_bearer(authorization.decode("latin-1") if authorization else None, self.api_keys)
            except ApiError as refused:
                # Nothing of the body is read for a caller without a valid key.
                await refused.response()(scope, receive, send)
                return
        limit = self.limit_for(path)
        declared_raw = headers.get(b"content-length", b"")
        declared = int(declared_raw) if declared_raw.isdigit() else None
        if declared is not None and declared > limit:
            await drain(receive, DRAIN_LIMIT if declared - limit <= DRAIN_LIMIT else 0)
            await too_large(limit).response()(scope, receive, send)
            return

        reservation = Reservation(self.budget)
        counted = path.rstrip("/") == UPLOAD_PATHS[0]
        if counted and declared:
            try:
                reservation.take(declared)
            except MemoryBusy as exc:
                log.info("busy: %d bytes of audio in memory already; refused a %d-byte body", self.budget.used,
                         declared)
                await memory_busy(exc).response()(scope, receive, send)
                return
        scope.setdefault("state", {})["voxnote_bytes"] = reservation
        started = time.monotonic()
        received = 0
        body_done = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # afterwards the app only listens for the client hanging up
                return await receive()
            # The body must keep up `min_rate` on average once the grace period is over: each chunk has a
            # deadline, so one byte a second (or silence) ends the request instead of holding it.
            deadline = started + self.grace_s + received / self.min_rate
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.min_rate) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await drain(receive, DRAIN_LIMIT)
                    raise BodyTooLarge(limit)
                if counted:
                    reservation.cover(received)
                body_done = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, guarded_receive, send)
        finally:
            reservation.release()


async def drain(receive: Receive, limit: int) -> None:
    drained = 0
    while drained <= limit:
        if limit == 0:
            return
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
