"""Start-up against the fake Slack: wrong tokens are plain errors, not endless reconnect loops."""

from __future__ import annotations

import logging

import pytest

from adapters.slack.runner import SlackBot
from bot.config import Settings
from bot.errors import VoxnoteError
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber


def _settings(fake: FakeSlack, tmp_path, **kw) -> Settings:
    fields = dict(slack_bot_token=fake.bot_token, slack_app_token=fake.app_token, slack_api_url=fake.api_url,
                  db_path=tmp_path / "v.db")
    fields.update(kw)
    return Settings(_env_file=None, **fields)


class _NoCore:
    store = None  # one process, nothing shared: the in-memory budgets

    def register(self, platform, kind) -> None:
        pass


@pytest.mark.parametrize(("field", "named"), [("slack_bot_token", "SLACK_BOT_TOKEN"), ("slack_app_token", "SLACK_APP_TOKEN")])
async def test_refused_token_is_a_plain_error(fake_slack: FakeSlack, tmp_path, field: str, named: str) -> None:
    bot = SlackBot(_settings(fake_slack, tmp_path, **{field: "xoxb-wrong" if "bot" in field else "xapp-wrong"}), _NoCore())
    with pytest.raises(VoxnoteError, match=f"{named} \\(invalid_auth\\)"):
        await bot.start()
    await bot.stop()
    assert fake_slack.connections == 0


async def test_socket_mode_uses_the_checked_url_once(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber([]))
    assert h.bot.mode == "socket" and fake_slack.connections == 1
    assert len(fake_slack.calls_to("apps.connections.open")) == 1


def test_http_mode_needs_the_signing_secret(fake_slack: FakeSlack, tmp_path) -> None:
    with pytest.raises(VoxnoteError, match="SLACK_SIGNING_SECRET"):
        SlackBot(_settings(fake_slack, tmp_path, slack_app_token=None), _NoCore())


async def test_no_token_unused_warning_when_the_token_comes_from_the_environment(
    slack_harness, fake_slack: FakeSlack, monkeypatch, caplog
) -> None:
    # How people run it: SLACK_BOT_TOKEN in the environment, which bolt also reads beside our client.
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.bot_token)
    caplog.set_level(logging.WARNING, logger="slack_bolt")
    h = await slack_harness(ScriptedTranscriber([]))
    assert h.bot.mode == "socket" and fake_slack.connections == 1
    assert "will be unused" not in caplog.text and "will be ignored" not in caplog.text
    # Only our own app's construction is filtered: another app given a client and a token is still told.
    from slack_bolt.async_app import AsyncApp

    AsyncApp(client=h.bot.client, token="xoxb-other", signing_secret="s")
    assert "`token` will be unused" in caplog.text
