"""`SlackPlatform` against the fake Slack through the real slack_sdk client: threads, pacing,
uploads, and private downloads that fail plainly."""

from __future__ import annotations

import pytest

from adapters.slack.notes import SlackMessage, audio_notes
from adapters.slack.platform import SlackPlatform
from adapters.slack.runner import make_client
from bot.config import Settings
from bot.errors import AudioTooLarge, FetchFailed
from bot.models import AudioNote
from tests.fixtures.slack import FakeSlack

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


async def test_edits_of_one_message_keep_the_minimum_interval(fake_slack: FakeSlack, platform: SlackPlatform) -> None:
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"x")])
    ref = await platform.post_reply(_note(fake_slack, msg), "…")
    for text in ("one", "one two", "one two three"):
        await platform.edit(ref, text)
    writes = [c.at for c in fake_slack.calls if c.method in ("chat.postMessage", "chat.update")]
    gaps = [b - a for a, b in zip(writes, writes[1:])]
    assert len(gaps) == 3 and min(gaps) >= platform.min_edit_interval - TOLERANCE
    assert fake_slack.bot_messages(CHANNEL)[0]["text"] == "one two three"


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
