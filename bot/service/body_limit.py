"""Refuse request bodies over a size cap with a JSON 413, before they fill memory or disk.

A declared Content-Length over the cap is refused before the app sees the request; a chunked body is
counted as it arrives. Either way the rest of the body is read and dropped (up to a bound) before the
answer, so the client, still sending, gets the 413 instead of a reset connection."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.service.api_errors import ApiError

# Past this much extra, stop draining and let the connection drop: answering is not worth more bandwidth.
DRAIN_LIMIT = 32 * 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than the {limit}-byte limit", code="file_too_large", param="file")


class BodyLimit:
    """ASGI middleware: `limit_for(path)` gives each path its cap in bytes."""

    def __init__(self, app: ASGIApp, upload_limit: int, other_limit: int = 1024 * 1024,
                 upload_paths: tuple[str, ...] = ("/v1/audio/transcriptions", "/v1/files")) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.other_limit = other_limit
        self.upload_paths = upload_paths

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.rstrip("/") in self.upload_paths else self.other_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _drain(receive)
            await too_large(limit).response()(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive)
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


async def _drain(receive: Receive) -> None:
    drained = 0
    while drained <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
