"""`/voxnote` on Slack: acked at once, answered ephemerally, settings changed only by admins."""

from __future__ import annotations

import pytest

from bot.models import Platform
from tests.fixtures.slack import FakeSlack, SlackHarness
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

CHANNEL = "C0GENERAL"


async def _settings(h: SlackHarness, fake: FakeSlack):
    return await h.core.channel_settings(Platform.slack, fake.team_id, CHANNEL)


@on_both_backends
@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_admin_changes_language_and_gets_an_ephemeral_answer(slack_harness, fake_slack: FakeSlack, mode: str) -> None:
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(ScriptedTranscriber([]), mode=mode)
    answer = await h.command("language fr", user="U0ADMIN")
    assert answer["response_type"] == "ephemeral"
    assert "fr" in answer["text"]
    assert (await _settings(h, fake_slack)).language == "fr"
    [lookup] = fake_slack.calls_to("users.info")
    assert lookup.args["user"] == "U0ADMIN"


async def test_ack_comes_before_the_work(slack_harness, fake_slack: FakeSlack) -> None:
    """The envelope is acked empty (no inline answer): the reply goes to response_url afterwards."""
    h = await slack_harness(ScriptedTranscriber([]))
    fields = fake_slack.slash_command("settings")
    envelope_id = await fake_slack.send_envelope("slash_commands", fields)
    ack = await fake_slack.wait_ack(envelope_id)
    assert ack == {"envelope_id": envelope_id}
    answer = await h._response(fields["response_url"])
    assert "language: auto" in answer["text"]


async def test_non_admin_is_refused_and_nothing_changes(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber([]))
    answer = await h.command("diarize on", user="U0GUEST")
    assert answer["response_type"] == "ephemeral"
    assert "only channel admins" in answer["text"]
    assert not (await _settings(h, fake_slack)).diarize
    # Reading is open to everyone.
    assert "speaker labels: off" in (await h.command("settings", user="U0GUEST"))["text"]


async def test_owner_and_listed_users_may_change_settings(slack_harness, fake_slack: FakeSlack) -> None:
    fake_slack.users["U0OWNER"] = {"is_owner": True}
    h = await slack_harness(ScriptedTranscriber([]), slack_admins=["U0LISTED"])
    await h.command("timestamps on", user="U0OWNER")
    await h.command("auto off", user="U0LISTED")
    s = await _settings(h, fake_slack)
    assert s.timestamps and not s.auto_transcribe
    assert [c.args["user"] for c in fake_slack.calls_to("users.info")] == ["U0OWNER"]  # the list needs no lookup


async def test_bad_arguments_get_a_clear_answer_and_help_renders_for_slack(slack_harness, fake_slack: FakeSlack) -> None:
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(ScriptedTranscriber([]))
    bad = await h.command("language klingon", user="U0ADMIN")
    assert ":warning:" in bad["text"] and "klingon" in bad["text"]
    help_text = (await h.command("help"))["text"]
    # `<code…|auto>` must not turn into a Slack link: control characters are escaped.
    assert "&lt;code…|auto&gt;" in help_text and "<code…|auto>" not in help_text
