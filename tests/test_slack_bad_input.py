"""Notes that cannot be transcribed get one plain message in their thread, and the bot goes on."""

from __future__ import annotations

import pytest

from bot.errors import CorruptAudio, TranscriptionUnavailable
from bot.models import Segment
from tests.fixtures.slack import FakeFile, FakeSlack, SlackHarness
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
OK = [Segment(text="This one works.", start=0, end=1)]


async def _reply_in_thread(fake: FakeSlack, h: SlackHarness, msg: dict) -> str:
    """The text the note's thread ends with, once nothing more is pending."""
    await fake.wait_for(lambda: any(":warning:" in m["text"] or m["text"] == OK[0].text
                                    for m in fake.bot_messages(CHANNEL, thread_ts=msg["ts"])))
    await h.core.wait_idle()
    [reply] = fake.bot_messages(CHANNEL, thread_ts=msg["ts"])
    return reply["text"]


async def _still_works(fake: FakeSlack, h: SlackHarness, transcriber: ScriptedTranscriber) -> None:
    transcriber.fail = None
    msg = fake.user_message(CHANNEL, [fake.add_file(b"OggS-good")])
    await h.deliver(fake.event_callback(msg))
    assert await _reply_in_thread(fake, h, msg) == OK[0].text


def _bad_file(fake: FakeSlack, case: str) -> FakeFile:
    if case == "oversize":
        return fake.add_file(b"x" * 1_500_000)  # over the 1 MB limit these tests set
    if case == "forbidden":
        return fake.add_file(b"OggS", forbidden=True)
    return fake.add_file(b"\x00garbage-not-audio")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("oversize", "1.5 MB; the limit is 1 MB"),
        ("forbidden", "HTTP 403"),
        ("corrupt", "damaged"),
        ("service_down", "transcription service"),
    ],
)
async def test_bad_note_gets_a_plain_reply_and_the_bot_goes_on(
    slack_harness, fake_slack: FakeSlack, case: str, expected: str
) -> None:
    failure = {
        "corrupt": CorruptAudio("the audio file is damaged or truncated"),
        "service_down": TranscriptionUnavailable("the transcription service is unavailable (connection refused)"),
    }.get(case)
    transcriber = ScriptedTranscriber(OK, delay=0, fail=failure)
    h = await slack_harness(transcriber, max_audio_bytes=1_000_000)
    msg = fake_slack.user_message(CHANNEL, [_bad_file(fake_slack, case)])
    await h.deliver(fake_slack.event_callback(msg))

    text = await _reply_in_thread(fake_slack, h, msg)
    assert text.startswith(":warning:") and expected in text
    if case == "oversize":
        assert fake_slack.downloads == []  # refused from the size Slack reported, before downloading
    await _still_works(fake_slack, h, transcriber)
