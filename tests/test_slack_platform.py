"""`SlackPlatform` against the fake Slack through the real slack_sdk client: threads, pacing,
uploads, and private downloads that fail plainly."""

from __future__ import annotations

import pytest

from adapters.slack.notes import SlackMessage, audio_notes
from adapters.slack.platform import SlackPacing, SlackPlatform
from adapters.slack.runner import make_client
from bot.config import Settings
from bot.errors import AudioTooLarge, FetchFailed
from bot.models import AudioNote
from tests.fixtures.slack import FakeSlack, Limit

CHANNEL = "C0GENERAL"
TOLERANCE = 0.05


@pytest.fixture
def platform(fake_slack: FakeSlack) -> SlackPlatform:
    settings = Settings(slack_bot_token=fake_slack.bot_token, slack_api_url=fake_slack.api_url)
    return SlackPlatform(make_client(settings))


def _note(fake: FakeSlack, message: dict) -> AudioNote:
    [note] = audio_notes(SlackMessage.model_validate(message), team_id=fake.team_id, channel_id=CHANNEL)
    return note


async def test_reply_goes_into_the_notes_thread_and_continuations_follow(fake_slack: FakeSlack, platform: SlackPlatform) -> None:
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"x")])
    ref = await platform.post_reply(_note(fake_slack, msg), "Transcribing…")
    more = await platform.post_in_thread(ref, "part 2")
    assert ref.thread_id == more.thread_id == msg["ts"]
    assert [m["text"] for m in fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])] == ["Transcribing…", "part 2"]
    [post, _] = fake_slack.calls_to("chat.postMessage")
    assert post.token == fake_slack.bot_token


async def test_edits_go_at_once_until_the_workspace_budget_is_spent(fake_slack: FakeSlack) -> None:
    """No per-message pace in the adapter (the first text follows its placeholder at once); chat.update
    waits only for the workspace's Tier 3 budget, so a long run of edits draws no 429."""
    fake_slack.limits["chat.update"] = Limit(per_minute=600, burst=10)
    settings = Settings(slack_bot_token=fake_slack.bot_token, slack_api_url=fake_slack.api_url)
    platform = SlackPlatform(make_client(settings), pacing=SlackPacing(updates_per_minute=480))
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"x")])
    ref = await platform.post_reply(_note(fake_slack, msg), "…")
    for i in range(16):
        await platform.edit(ref, f"text {i}")
    [post] = fake_slack.calls_to("chat.postMessage")
    updates = fake_slack.calls_to("chat.update")
    assert updates[0].at - post.at < 0.2  # the old adapter held every edit 1.2 s after the last write
    # The burst of 10 goes at once; the other 6 at the budget's pace (8 a second).
    assert updates[9].at - updates[0].at < 0.3
    assert updates[15].at - updates[9].at >= 6 / 8 - 0.15
    assert not fake_slack.rate_limited
    assert fake_slack.bot_messages(CHANNEL)[0]["text"] == "text 15"


async def test_upload_lands_in_the_thread_via_files_upload_v2(fake_slack: FakeSlack, platform: SlackPlatform) -> None:
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"x")])
    ref = await platform.post_reply(_note(fake_slack, msg), "done")
    await platform.upload(ref, "transcript.txt", "hello world".encode(), comment="Full transcript")
    methods = [c.method for c in fake_slack.calls]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    [up] = fake_slack.uploads
    assert (up.filename, up.data, up.channel_id, up.thread_ts) == ("transcript.txt", b"hello world", CHANNEL, msg["ts"])
    assert up.initial_comment == "Full transcript"


async def test_download_sends_the_bot_token(fake_slack: FakeSlack, platform: SlackPlatform) -> None:
    f = fake_slack.add_file(b"RIFF-audio-bytes")
    note = _note(fake_slack, fake_slack.user_message(CHANNEL, [f]))
    assert await platform.fetch_audio(note, max_bytes=1000) == b"RIFF-audio-bytes"
    assert fake_slack.downloads == [(f.id, True)]
    await platform.aclose()


async def test_oversize_file_is_refused_before_downloading(fake_slack: FakeSlack, platform: SlackPlatform) -> None:
    f = fake_slack.add_file(b"x" * 100)
    note = _note(fake_slack, fake_slack.user_message(CHANNEL, [f]))
    with pytest.raises(AudioTooLarge):
        await platform.fetch_audio(note, max_bytes=50)
    # Slack reported a small size but served more: the cap holds while reading.
    liar = fake_slack.add_file(b"y" * 200_000, reported_size=10)
    with pytest.raises(AudioTooLarge):
        await platform.fetch_audio(_note(fake_slack, fake_slack.user_message(CHANNEL, [liar])), max_bytes=1000)
    assert [d[0] for d in fake_slack.downloads] == [liar.id]
    await platform.aclose()


@pytest.mark.parametrize("kind", ["forbidden", "sign_in_page", "deleted"])
async def test_undownloadable_file_is_a_fetch_failure(fake_slack: FakeSlack, platform: SlackPlatform, kind: str) -> None:
    f = fake_slack.add_file(b"x", forbidden=kind == "forbidden", sign_in_page=kind == "sign_in_page")
    note = _note(fake_slack, fake_slack.user_message(CHANNEL, [f]))
    if kind == "deleted":
        del fake_slack.files[f.id]
    with pytest.raises(FetchFailed):
        await platform.fetch_audio(note, max_bytes=1000)
    await platform.aclose()
