"""Server-Sent Events from an async iterator, written as each event arrives; a client that leaves stops
the producer at once (not at the next write), and `on_close` runs whatever happens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bot.service.disconnect import wait_for_disconnect

log = logging.getLogger(__name__)

# (event name, JSON body); the body carries `type` too, as Mistral's events do.
Event = tuple[str, dict[str, Any]]


def encode(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


class EventStreamResponse(Response):
    """An ASGI response; `error_event` turns an exception raised mid-stream into a last event."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[Event],
        *,
        on_close: Callable[[], None],
        error_event: Callable[[Exception], Event],
    ) -> None:
        super().__init__(status_code=200)
        self.events = events
        self.on_close = on_close
        self.error_event = error_event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        # Reverse proxies (nginx) would otherwise buffer the stream and defeat live text.
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            pump = asyncio.create_task(self._pump(send))
            watcher = asyncio.create_task(wait_for_disconnect(receive))
            try:
                await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
                if not pump.done():
                    log.info("client left during a stream; stopping its transcription")
                    pump.cancel()
                await asyncio.wait({pump})
            if not pump.cancelled() and (exc := pump.exception()) is not None:
                log.debug("stream ended early: %r", exc)
        finally:
            try:
                await self.events.aclose()  # type: ignore[attr-defined]
            finally:
                self.on_close()

    async def _pump(self, send: Send) -> None:
        try:
            async for name, data in self.events:
                await send({"type": "http.response.body", "body": encode(name, data), "more_body": True})
        except OSError:
            raise  # the client is gone: nothing more can be written
        except Exception as exc:
            name, data = self.error_event(exc)
            await send({"type": "http.response.body", "body": encode(name, data), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
