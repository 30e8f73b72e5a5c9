"""ChatClient against the fake chat-completions server: wire format, retries, typed errors, endpoint choice."""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.retry import RetryPolicy
from bot.summary.chat import (
    MISTRAL_URL,
    ChatClient,
    LLMBadAnswer,
    LLMRejected,
    LLMUnavailable,
    llm_endpoint,
)
from tests.fixtures.chat import ChatReply, FakeChat

FAST = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01, budget_s=5)
KEY = "sk-chat-secret-123"
HELLO = [{"role": "user", "content": "hello"}]


def client(fake: FakeChat, **kw) -> ChatClient:
    return ChatClient(fake.url, kw.pop("api_key", KEY), kw.pop("model", "small-model"), retry=FAST, **kw)


async def test_posts_the_openai_shape_and_returns_the_content(fake_chat: FakeChat):
    fake_chat.reply_content("the answer")
    async with client(fake_chat) as llm:
        assert await llm.complete([{"role": "system", "content": "be brief"}, *HELLO], temperature=0.3) == "the answer"
    req = fake_chat.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.header("authorization") == f"Bearer {KEY}"
    assert req.body == {"model": "small-model", "temperature": 0.3,
                        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]}


async def test_base_url_with_v1_and_no_key(fake_chat: FakeChat):
    fake_chat.reply_content("ok")
    async with ChatClient(fake_chat.url + "/v1/", None, "llama3", retry=FAST) as llm:
        assert await llm.complete(HELLO) == "ok"
    assert fake_chat.requests[0].path == "/v1/chat/completions"
    assert fake_chat.requests[0].header("authorization") is None


async def test_json_mode_asks_for_a_json_object(fake_chat: FakeChat):
    fake_chat.reply_content("{}")
    async with client(fake_chat) as llm:
        await llm.complete(HELLO, json_object=True)
    assert fake_chat.requests[0].response_format == {"type": "json_object"}


async def test_json_mode_is_dropped_when_the_server_refuses_it(fake_chat: FakeChat):
    fake_chat.reject_response_format = True
    async with client(fake_chat) as llm:
        assert await llm.complete(HELLO, json_object=True)
        assert llm.json_mode is False
        await llm.complete(HELLO, json_object=True)
    formats = [r.response_format for r in fake_chat.requests]
    assert formats == [{"type": "json_object"}, None, None]  # refused once, then never sent again


async def test_429_and_5xx_are_retried_honouring_retry_after(fake_chat: FakeChat):
    fake_chat.reply_error(429, "slow down", retry_after=0)
    fake_chat.reply_error(503, "overloaded")
    fake_chat.reply_error(502)
    fake_chat.reply_content("finally")
    async with client(fake_chat) as llm:
        assert await llm.complete(HELLO) == "finally"
    assert len(fake_chat.requests) == 4


async def test_a_dropped_connection_is_retried(fake_chat: FakeChat):
    fake_chat.reply_disconnect()
    fake_chat.reply_content("after the drop")
    async with client(fake_chat) as llm:
        assert await llm.complete(HELLO) == "after the drop"
    assert len(fake_chat.requests) == 2


async def test_gives_up_after_the_retry_budget(fake_chat: FakeChat):
    fake_chat.reply_error(500, "model crashed", times=10)
    async with client(fake_chat) as llm:
        with pytest.raises(LLMUnavailable) as info:
            await llm.complete(HELLO)
    assert info.value.status == 500
    assert "model crashed" in str(info.value) and "4 attempts" in str(info.value)
    assert len(fake_chat.requests) == FAST.max_retries + 1


async def test_long_retry_after_is_capped_by_the_budget(fake_chat: FakeChat):
    fake_chat.reply_error(429, retry_after=3600)
    async with client(fake_chat) as llm:
        with pytest.raises(LLMUnavailable):
            await llm.complete(HELLO)
    assert len(fake_chat.requests) == 1  # waiting an hour would blow the 5 s budget: fail now


async def test_4xx_is_rejected_at_once(fake_chat: FakeChat):
    fake_chat.api_key = "the-right-key"
    async with client(fake_chat, api_key="wrong") as llm:
        with pytest.raises(LLMRejected) as info:
            await llm.complete(HELLO)
    assert info.value.status == 401 and "Unauthorized" in str(info.value)
    assert len(fake_chat.requests) == 1


async def test_unreachable_endpoint_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    async with ChatClient(f"http://127.0.0.1:{port}", retry=FAST) as llm:
        with pytest.raises(LLMUnavailable, match="could not be reached"):
            await llm.complete(HELLO)


async def test_content_parts_are_joined(fake_chat: FakeChat):
    fake_chat.reply_content([{"type": "text", "text": "part one, "}, {"type": "thinking", "thinking": []},
                             {"type": "text", "text": "part two"}])
    async with client(fake_chat) as llm:
        assert await llm.complete(HELLO) == "part one, part two"


@pytest.mark.parametrize("body", [{"choices": []}, {"error": "none"}, {"choices": [{"message": {"content": ""}}]}])
async def test_answers_without_content_are_bad(fake_chat: FakeChat, body):
    fake_chat.reply(ChatReply(json=body))
    async with client(fake_chat) as llm:
        with pytest.raises(LLMBadAnswer):
            await llm.complete(HELLO)


async def test_the_key_never_reaches_logs_or_reprs(fake_chat: FakeChat, caplog):
    fake_chat.reply_error(503, times=10)
    caplog.set_level(logging.DEBUG)
    llm = client(fake_chat)
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert caplog.records  # the retries were logged...
    for text in (caplog.text, repr(llm), str(info.value), repr(llm_endpoint(Settings(_env_file=None, llm_api_key=KEY)))):
        assert KEY not in text  # ...without the key


def settings(**fields) -> Settings:
    base = {"mistral_api_key": None, "llm_api_key": None, "llm_base_url": None}
    return Settings(_env_file=None, **{**base, **fields})


def test_no_key_and_no_url_means_offline():
    assert llm_endpoint(settings()) is None
    assert ChatClient.from_settings(settings()) is None


def test_the_mistral_key_selects_mistral():
    endpoint = llm_endpoint(settings(mistral_api_key="mk"))
    assert endpoint is not None and endpoint.base_url == MISTRAL_URL
    assert endpoint.api_key == SecretStr("mk")


def test_an_llm_key_wins_over_the_mistral_key():
    endpoint = llm_endpoint(settings(mistral_api_key="mk", llm_api_key="lk"))
    assert endpoint is not None and endpoint.base_url == MISTRAL_URL and endpoint.api_key == SecretStr("lk")


def test_a_key_for_another_transcription_server_never_reaches_mistral():
    """The compose file's bot: MISTRAL_API_KEY is `voxnote serve`'s key, so summaries stay offline."""
    assert llm_endpoint(settings(mistral_api_key="serve-key", mistral_base_url="http://serve:8000")) is None
    endpoint = llm_endpoint(settings(mistral_api_key="serve-key", mistral_base_url="http://serve:8000",
                                     llm_base_url="https://api.mistral.ai"))
    assert endpoint is not None and endpoint.api_key is None


def test_a_custom_url_never_gets_the_mistral_key():
    endpoint = llm_endpoint(settings(mistral_api_key="mk", llm_base_url="http://127.0.0.1:11434/v1"))
    assert endpoint is not None and endpoint.base_url == "http://127.0.0.1:11434/v1" and endpoint.api_key is None
    endpoint = llm_endpoint(settings(mistral_api_key="mk", llm_base_url="https://api.mistral.ai/"))
    assert endpoint is not None and endpoint.api_key == SecretStr("mk")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VOXNOTE_LLM_BASE_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("VOXNOTE_LLM_API_KEY", "env-key")
    monkeypatch.setenv("VOXNOTE_LLM_MODEL", "qwen")
    monkeypatch.setenv("VOXNOTE_LLM_CONTEXT_CHARS", "5000")
    s = Settings(_env_file=None)
    assert (s.llm_base_url, s.llm_model, s.llm_context_chars) == ("http://127.0.0.1:8000", "qwen", 5000)
    llm = ChatClient.from_settings(s)
    assert llm is not None and llm.model == "qwen" and llm.base_url == "http://127.0.0.1:8000"


async def test_the_fake_speaks_what_the_openai_sdk_expects(fake_chat: FakeChat):
    """The fake's answers parse in the official SDK, so the client is tested against a realistic shape."""
    from openai import AsyncOpenAI

    fake_chat.reply_content("sdk answer")
    sdk = AsyncOpenAI(base_url=fake_chat.url + "/v1", api_key="x", max_retries=0)
    answer = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    await sdk.close()
    assert answer.choices[0].message.content == "sdk answer"
    assert fake_chat.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]
