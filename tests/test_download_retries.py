"""A CDN hiccup is not the end of a note: 5XX, 429, timeouts and resets on the platform's file server are
retried like transcription faults (Retry-After honoured); only "gone" answers are final."""

from __future__ import annotations

import time

import pytest

from bot.models import Segment
from storage import JobStatus
from tests.fixtures.discord import FakeDiscord
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Worth the second try.", start=0, end=1)]
OGG = b"OggS\x00\x02" + bytes(2000)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr("bot.core.RETRY_BASE_SECONDS", 0.01)


@pytest.mark.parametrize("streaming", [False, True], ids=["bytes", "streamed"])
@pytest.mark.parametrize("status", [503, 429, 502])
async def test_slack_note_survives_a_failed_first_download(slack_harness, fake_slack: FakeSlack, status, streaming):
    engine = ScriptedTranscriber(SEGMENTS, delay=0, accepts_chunks=streaming)
    h = await slack_harness(engine)
    f = fake_slack.add_file(OGG)
    f.fail_downloads = [status]
    msg = fake_slack.user_message(CHANNEL, [f])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: fake_slack.downloads)
    first = time.monotonic()
    await fake_slack.wait_for(lambda: any(m["text"] == SEGMENTS[0].text for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    assert len(fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])) == 1
    assert [d for d, _ in fake_slack.downloads] == [f.id, f.id]
    if status in (429, 503):
        assert time.monotonic() - first >= 0.9  # the file server's Retry-After: 1 was honoured
    key = f"slack:{fake_slack.team_id}:{CHANNEL}:{msg['ts']}:{f.id}"
    assert (await h.store.get_job(key)).status == JobStatus.done
    assert engine.received == ([OGG] if streaming else [])  # the retry streamed the whole file


async def test_slack_file_gone_is_final(slack_harness, fake_slack: FakeSlack):
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    f = fake_slack.add_file(OGG)
    f.fail_downloads = [404]
    msg = fake_slack.user_message(CHANNEL, [f])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: any("Couldn't transcribe" in m["text"] for m in fake_slack.bot_messages(CHANNEL)))
    await h.core.wait_idle()
    assert len(fake_slack.downloads) == 1


@pytest.mark.parametrize("streaming", [False, True], ids=["bytes", "streamed"])
@pytest.mark.parametrize("status", [503, 500])
async def test_discord_note_survives_a_failed_first_download(discord_harness, fake_discord: FakeDiscord, status,
                                                             streaming):
    engine = ScriptedTranscriber(SEGMENTS, delay=0, accepts_chunks=streaming)
    h = await discord_harness(engine)
    message = fake_discord.voice_message(OGG)
    fake_discord.cdn_failures[message["attachments"][0]["id"]] = [status]
    note = await fake_discord.post_message(message)
    reply = await h.transcribed(note)
    # The retry is queued for when the CDN's Retry-After allows: wait for the final text.
    await fake_discord.wait_for(lambda: fake_discord.messages[reply["id"]]["content"] == SEGMENTS[0].text)
    await h.core.wait_idle()
    assert len(fake_discord.replies_to(note["id"])) == 1
    assert len(fake_discord.downloads) == 2
    assert engine.received == ([OGG] if streaming else [])
