"""The bot token opens every file of a workspace: it goes to Slack's own file servers and nowhere else,
whatever link `files.info` hands back. A file kept outside Slack gets one plain message."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.models import Segment
from tests.fixtures.aiohttp_server import ThreadedServer
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
OK = [Segment(text="Hello.", start=0, end=1)]


class Elsewhere(ThreadedServer):
    """Another origin (same address, other port) that records who called it and with which headers."""

    name = "third-party file host"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, str]] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        return web.Response(body=b"OggS-from-elsewhere", content_type="audio/ogg")


@pytest.fixture
def elsewhere():
    with Elsewhere() as server:
        yield server


async def _warning(fake: FakeSlack, msg: dict) -> str:
    await fake.wait_for(lambda: any(":warning:" in m["text"] for m in fake.bot_messages(CHANNEL, thread_ts=msg["ts"])))
    [reply] = fake.bot_messages(CHANNEL, thread_ts=msg["ts"])
    return reply["text"]


@pytest.mark.parametrize("mode", ["hosted", "external"])
async def test_the_token_never_goes_to_a_host_files_info_names(slack_harness, fake_slack: FakeSlack, elsewhere, mode):
    h = await slack_harness(ScriptedTranscriber(OK, delay=0))
    f = fake_slack.add_file(b"OggS")
    f.elsewhere, f.mode = f"{elsewhere.url}/gdrive/voice.ogg", mode
    msg = fake_slack.user_message(CHANNEL, [f])
    await h.deliver(fake_slack.event_callback(msg))
    text = await _warning(fake_slack, msg)
    assert "stored outside Slack" in text
    await h.core.wait_idle()
    assert not [headers for headers in elsewhere.seen if "Authorization" in headers]
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 1


async def test_slack_hosted_files_still_download_with_the_token(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(OK, delay=0))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
    await h.deliver(fake_slack.event_callback(msg))
    await h.answered_once(msg, OK[0].text)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.webm", True),
        ("https://acme.enterprise.slack.com/files-pri/T1-F1/a.webm", True),
        ("https://files.slack-gov.com/files-pri/T1-F1/a.webm", True),
        ("http://files.slack.com/files-pri/T1-F1/a.webm", False),  # the token in clear text
        ("https://files.slack.com:8443/files-pri/a.webm", False),
        ("https://files.slack.com.evil.example/a.webm", False),
        ("https://evil.example/files.slack.com/a.webm", False),
        ("https://notslack.com/a.webm", False),
        ("https://user:pw@files.slack.com/a.webm", False),
        ("https://docs.google.com/file/d/1", False),
        ("not a url", False),
    ],
)
def test_which_hosts_get_the_token(url, allowed):
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.platform import SlackPlatform

    platform = SlackPlatform(AsyncWebClient(token="xoxb-test", base_url="https://slack.com/api/"))
    assert platform.token_may_go_to(url) is allowed
