"""What voxnote's HTTP API clients share: the human message of an error body, an httpx client with an optional
Bearer key, and one retry loop that turns every failure into the client's own typed errors."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Self

import httpx
from pydantic import SecretStr

from bot.retry import RetryPolicy, RetryState, is_retryable_status, parse_retry_after

# Transport failures worth another attempt: the service was unreachable, slow, or dropped the connection.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
MAX_BODY_CHARS = 2000


def error_message(body: str) -> str:
    """The human part of an error body: Mistral's `message`, FastAPI's `detail`, OpenAI's `error.message`; short."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300] or "(empty body)"
    if isinstance(data, dict):
        for key in ("message", "detail", "error"):
            message = _message_of(data.get(key))
            if message:
                return message[:300]
    return body.strip()[:300]


def _message_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = _message_of(value.get("message") or value.get("msg") or value.get("detail"))
        loc = value.get("loc")
        if text and isinstance(loc, list) and loc:
            return ".".join(str(p) for p in loc) + ": " + text
        return text
    if isinstance(value, list):
        return "; ".join(m for m in (_message_of(v) for v in value) if m)
    return ""


@dataclass(frozen=True)
class ApiService:
    """How a client names its service in errors and logs, and the typed errors its failures become.

    `unavailable` (retryable: connect errors, timeouts, 429, 5XX) takes `retry_after`; `rejected` is any other
    4XX, never retried; `error` is every other answer. All three take `detail, *, status, body`."""

    label: str
    attempt: str
    log: logging.Logger
    unavailable: type[Any]
    rejected: type[Exception]
    error: type[Exception]


class ApiClient:
    """Base of a client for one HTTP API: owns the httpx client (closed by `async with` or `aclose`) and retries
    with jittered backoff, honouring Retry-After, within `retry`."""

    service: ApiService

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None,
        model: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        retry: RetryPolicy | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        base = base_url.rstrip("/")
        # People paste OpenAI-style base URLs ending in /v1; the clients' paths already carry it.
        self.base_url = base[:-3] if base.endswith("/v1") else base
        self.model = model
        self.retry = retry or RetryPolicy()
        key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        headers = {"User-Agent": "voxnote"}
        if key is not None and key.get_secret_value():
            headers["Authorization"] = f"Bearer {key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with retries; returns a 2XX response or raises one of the service's typed errors."""
        state = RetryState(self.retry)
        while True:
            try:
                response = await self._client.request(method, path, **kwargs)
            except RETRYABLE_ERRORS as exc:
                failure = self._unreachable(exc)
            else:
                if response.is_success:
                    return response
                failure = self._failure(response)
            await self._backoff(state, failure)

    def _unreachable(self, exc: Exception) -> Any:
        """The retryable failure for a transport error."""
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        return self.service.unavailable(f"{self.service.label} at {self.base_url} {what} ({type(exc).__name__})")

    def _failure(self, response: httpx.Response) -> Any:
        """The retryable failure for an answer; raises at once when retrying cannot help."""
        service = self.service
        status = response.status_code
        body = response.text[:MAX_BODY_CHARS]
        message = error_message(body)
        if is_retryable_status(status):
            return service.unavailable(
                f"{service.label} answered {status}: {message}",
                status=status,
                body=body,
                retry_after=parse_retry_after(response.headers),
            )
        if 400 <= status < 500:
            raise service.rejected(
                f"{service.label} rejected the request ({status}): {message}", status=status, body=body
            )
        raise service.error(f"unexpected answer {status} from {service.label}", status=status, body=body)

    async def _backoff(self, state: RetryState, failure: Any) -> None:
        """Sleep before the next attempt, or raise `failure` once the retry budget is spent."""
        delay = state.next_delay(failure.retry_after)
        if delay is None:
            if state.attempts > 1:
                failure.detail = f"{failure.detail} (gave up after {state.attempts} attempts)"
            raise failure
        self.service.log.warning(
            "%s attempt %d failed: %s; retrying in %.2fs", self.service.attempt, state.retries, failure, delay
        )
        await asyncio.sleep(delay)
