"""One real Slack audio clip through the whole chain: slack-bolt in Socket Mode against the fake Slack,
the core, and the embedded faster-whisper engine, on the shipped sample remuxed into WebM/Opus (the
container of Slack's recorded clips)."""

from __future__ import annotations

import io

import av
import pytest

from tests.fixtures.engine import load_speech_clip, word_error_rate
from tests.fixtures.slack import FakeSlack

CHANNEL = "C0GENERAL"


def as_webm(ogg: bytes) -> bytes:
    """The same Opus packets in a WebM container, as Slack records clips (no re-encoding)."""
    out_buf = io.BytesIO()
    with av.open(io.BytesIO(ogg)) as src, av.open(out_buf, "w", format="webm") as dst:
        stream = src.streams.audio[0]
        target = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is not None:
                packet.stream = target
                dst.mux(packet)
    return out_buf.getvalue()


@pytest.mark.slow
async def test_real_slack_clip_is_transcribed_live_by_the_local_engine(slack_harness, fake_slack: FakeSlack, local_engine) -> None:
    data, expected = load_speech_clip("voice-note")
    h = await slack_harness(local_engine)
    clip = fake_slack.add_file(as_webm(data), duration_ms=17_300)
    msg = fake_slack.user_message(CHANNEL, [clip])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: fake_slack.bot_messages(CHANNEL))  # the note is a job by now
    await h.core.wait_idle(timeout=180)

    [reply] = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    updates = [u.args["text"] for u in fake_slack.updates_of(reply["ts"])]
    assert len(updates) >= 2 and updates[0].endswith("…")  # text showed up before the end
    assert word_error_rate(expected, reply["text"]) < 0.2
    assert fake_slack.downloads == [(clip.id, True)]
