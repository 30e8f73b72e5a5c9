"""A small chat-completions client: `POST {base}/v1/chat/completions`, the shape Mistral, OpenAI, vLLM,
Ollama and llama.cpp's server all accept. Retries connect errors, 429 and 5XX (bot.http_api)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
from pydantic import SecretStr

from bot.errors import VoxnoteError
from bot.http_api import MAX_BODY_CHARS, ApiClient, ApiService
from bot.retry import RetryPolicy

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

MISTRAL_URL = "https://api.mistral.ai"
COMPLETIONS_PATH = "/v1/chat/completions"


class LLMError(VoxnoteError):
    """The chat-completions call failed; the summary falls back to the offline extract."""

    user_message = "the summary model failed"

    def __init__(self, detail: str | None = None, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = body


class LLMUnavailable(LLMError):
    """Connect errors, timeouts, 429 and 5XX after the retry budget."""

    user_message = "the summary model is unavailable"

    def __init__(self, detail: str | None = None, *, status: int | None = None, body: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, status=status, body=body)
        self.retry_after = retry_after


class LLMRejected(LLMError):
    """A 4XX other than 429 (bad key, unknown model...): never retried."""

    user_message = "the summary model rejected the request"


class LLMBadAnswer(LLMError):
    """A 2XX whose content is missing or not the JSON voxnote asked for."""

    user_message = "the summary model gave an answer voxnote cannot read"


@dataclass(frozen=True)
class LLMEndpoint:
    base_url: str
    api_key: SecretStr | None

    def __repr__(self) -> str:
        return f"LLMEndpoint(base_url={self.base_url!r})"


def _is_mistral(base_url: str) -> bool:
    return urlparse(base_url).hostname == urlparse(MISTRAL_URL).hostname


def llm_endpoint(settings: Settings) -> LLMEndpoint | None:
    """Where summaries go: `llm_base_url`, else Mistral's API when a key is set; None means offline.

    Mistral's URL falls back to the transcription key (`MISTRAL_API_KEY`), so one key serves both, but only
    when that key is for Mistral's own API: a key for `voxnote serve` or another server is no Mistral key,
    and using it would send every transcript to Mistral's cloud."""
    llm_key = settings.llm_api_key if settings.llm_api_key and settings.llm_api_key.get_secret_value() else None
    mistral_key = (
        settings.mistral_api_key
        if settings.mistral_api_key and settings.mistral_api_key.get_secret_value()
        and _is_mistral(settings.mistral_base_url)
        else None
    )
    base = settings.llm_base_url.strip() if settings.llm_base_url else None
    if base:
        return LLMEndpoint(base, llm_key or (mistral_key if _is_mistral(base) else None))
    if llm_key or mistral_key:
        return LLMEndpoint(MISTRAL_URL, llm_key or mistral_key)
    return None


def message_content(data: Any) -> str:
    """`choices[0].message.content` as text; list-of-parts content (newer Mistral models) is joined."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMBadAnswer("the chat answer has no choices[0].message.content") from exc
    if isinstance(content, list):
        content = "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    if not isinstance(content, str) or not content.strip():
        raise LLMBadAnswer("the chat answer is empty")
    return content


class ChatClient(ApiClient):
    """One model on one chat-completions endpoint. `complete(messages) -> str`; typed errors."""

    service = ApiService("the chat endpoint", "chat completion", log, unavailable=LLMUnavailable,
                         rejected=LLMRejected, error=LLMError)

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None = None,
        model: str = "mistral-small-latest",
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, model, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                         retry=retry, transport=transport)
        # Cleared when the server refuses `response_format`, so later calls skip it.
        self.json_mode = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ChatClient | None:
        """A client for the configured endpoint, or None when summaries are to be made offline."""
        endpoint = llm_endpoint(settings)
        if endpoint is None:
            return None
        return cls(**{
            "base_url": endpoint.base_url,
            "api_key": endpoint.api_key,
            "model": settings.llm_model,
            "timeout_s": settings.llm_timeout_s,
            "connect_timeout_s": settings.connect_timeout_s,
            "retry": RetryPolicy(max_retries=settings.max_retries),
            **overrides,
        })

    async def complete(
        self, messages: list[dict[str, str]], *, temperature: float = 0.2, json_object: bool = False
    ) -> str:
        """The assistant's answer text. `json_object` asks for `response_format: json_object` where supported."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if json_object and self.json_mode:
            try:
                return message_content(await self._post({**body, "response_format": {"type": "json_object"}}))
            except LLMRejected as exc:
                if exc.status not in (400, 422):
                    raise
                # Some OpenAI-compatible servers refuse response_format; the prompt asks for JSON anyway.
                log.info("the chat endpoint refused response_format (%s); asking without it", exc.status)
                self.json_mode = False
        return message_content(await self._post(body))

    async def _post(self, body: dict[str, Any]) -> Any:
        response = await self._send("POST", COMPLETIONS_PATH, json=body)
        try:
            return response.json()
        except ValueError as exc:
            raise LLMBadAnswer("the chat endpoint answered with something other than JSON",
                               status=response.status_code, body=response.text[:MAX_BODY_CHARS]) from exc
