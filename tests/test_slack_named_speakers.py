"""Named speakers on Slack, end to end through slack-bolt and the fake Slack (issue 19): an admin uses
"Enrol this voice" on a person's voice note, only that person's click on the consent button stores the
voice, a later diarized note (real audio, the real local engine) names them, `speaker list` shows them, and
`speaker remove` makes later notes call them `Speaker N` again."""

from __future__ import annotations

import json

import pytest

from bot.engine.mistral import MistralTranscriber
from bot.models import Platform, Segment, Transcript
from storage import Voiceprint
from tests.fixtures.slack import FakeSlack, SlackHarness
from tests.test_named_speakers_real import ENROL, SPEAKERS

CHANNEL = "C0GENERAL"
# A tuning-half call of Carlo (enrolled below from other recordings of his) and June (never enrolled).
CALL = SPEAKERS / "tune-2v-04-carlo-june.ogg"


def ogg(fake: FakeSlack, path, seconds: float):
    return fake.add_file(path.read_bytes(), name=path.name, mimetype="audio/ogg", filetype="ogg",
                         duration_ms=int(seconds * 1000))


async def clicked(h: SlackHarness, fake: FakeSlack, request: dict, action: str, user: str) -> None:
    await h.click(fake.block_action(request, action, user=user))


async def diarized_reply(h: SlackHarness, fake: FakeSlack) -> str:
    msg = fake.user_message(CHANNEL, [ogg(fake, CALL, 28.1)], user="U0JUNE")
    await h.deliver(fake.event_callback(msg))
    await fake.wait_for(lambda: any("Speaker" in m["text"] or "Carlo" in m["text"]
                                    for m in fake.bot_messages(CHANNEL, msg["ts"])), timeout=120)
    await h.core.wait_idle(timeout=120)
    [reply] = fake.bot_messages(CHANNEL, msg["ts"])
    return reply["text"]


@pytest.mark.slow
async def test_enrol_with_consent_then_named_listed_and_removed(slack_harness, fake_slack: FakeSlack,
                                                                local_engine) -> None:
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    fake_slack.users["U0CARLO"] = {"real_name": "Carlo Flora", "profile": {"display_name": "Carlo"}}
    h: SlackHarness = await slack_harness(local_engine)
    assert "Speaker labels on" in (await h.command("diarize on", user="U0ADMIN"))["text"]
    note = fake_slack.user_message(CHANNEL, [ogg(fake_slack, ENROL / "carlo.ogg", 26.0)], user="U0CARLO")

    # Not an admin: refused, and nobody is asked anything.
    refused = await h.shortcut(fake_slack.message_shortcut(note, callback_id="voxnote_enrol", user="U0BOB"))
    assert "only admins" in refused["text"]
    # The admin asks; the bot asks Carlo in the note's thread, with buttons only he may use.
    asked = await h.shortcut(fake_slack.message_shortcut(note, callback_id="voxnote_enrol", user="U0ADMIN"))
    assert "Asked Carlo to confirm" in asked["text"]
    [request] = [m for m in fake_slack.bot_messages(CHANNEL, note["ts"]) if m.get("blocks")]
    assert "<@U0CARLO>" in request["text"] and "<@U0ADMIN>" in request["text"]
    assert await h.store.list_voiceprints(Platform.slack, fake_slack.team_id) == []

    # Someone else clicks "Yes": told off, nothing stored, the request still stands.
    before = len(fake_slack.responses)
    await clicked(h, fake_slack, request, "voxnote_consent_yes", "U0BOB")
    await fake_slack.wait_for(lambda: len(fake_slack.responses) > before)
    assert "only the person whose voice this is" in fake_slack.responses[-1]["text"]
    assert fake_slack.responses[-1].get("response_type") == "ephemeral"
    assert await h.store.list_voiceprints(Platform.slack, fake_slack.team_id) == []

    # Carlo accepts: stored with who enrolled and who consented; the buttons are gone.
    await clicked(h, fake_slack, request, "voxnote_consent_yes", "U0CARLO")
    await fake_slack.wait_for(lambda: request["text"].startswith("Enrolled"))
    assert request["blocks"] == []
    [voice] = await h.store.list_voiceprints(Platform.slack, fake_slack.team_id)
    assert (voice.name, voice.user_id, voice.enrolled_by, voice.consented_by) == ("Carlo", "U0CARLO", "U0ADMIN",
                                                                                   "U0CARLO")
    listed = (await h.command("speaker list"))["text"]
    assert "Carlo" in listed and "U0ADMIN" in listed

    # A later diarized call names Carlo, and not June, who never enrolled.
    named = await diarized_reply(h, fake_slack)
    assert "*Carlo*:" in named and "*Speaker " in named, named

    # Bob may not remove Carlo's voice; an admin may; later notes no longer name him.
    assert "only admins, or the person themselves" in (await h.command("speaker remove carlo", user="U0BOB"))["text"]
    assert "Removed the voice of Carlo" in (await h.command("speaker remove carlo", user="U0ADMIN"))["text"]
    assert await h.store.list_voiceprints(Platform.slack, fake_slack.team_id) == []
    unnamed = await diarized_reply(h, fake_slack)
    assert "Carlo" not in unnamed and "*Speaker " in unnamed, unnamed


async def test_a_remote_engines_speakers_are_named_by_the_bot(slack_harness, fake_slack: FakeSlack,
                                                              fake_mistral) -> None:
    """With a Mistral-compatible service (which takes recordings, and the bot keeps none), the service
    labels the speakers and the bot names the enrolled one from the note's audio; no voiceprint leaves."""
    turns = json.loads((SPEAKERS / "tune-2v-04-carlo-june.turns.json").read_text())["turns"]
    ids = {"carlo": "speaker_1", "june": "speaker_2"}
    segments = [Segment(text=" " + (t["text"] or "…"), start=t["start"], end=t["end"], speaker_id=ids[t["speaker"]])
                for t in turns]
    fake_mistral.reply_transcript(Transcript(text="".join(s.text for s in segments).strip(), segments=segments))
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    async with MistralTranscriber(fake_mistral.url, "sk-test", "voxtral-mini-latest") as transcriber:
        h: SlackHarness = await slack_harness(transcriber)
        await h.command("diarize on", user="U0ADMIN")
        embedding = await h.core.speakers.voiceprint((ENROL / "carlo.ogg").read_bytes())
        await h.store.add_voiceprint(Voiceprint(
            platform=Platform.slack, workspace_id=fake_slack.team_id, name="Carlo", embedding=embedding,
            user_id="U0CARLO", enrolled_by="U0ADMIN", consented_by="U0CARLO", channel_id=CHANNEL,
            source_key="slack:enrolment"))
        named = await diarized_reply(h, fake_slack)
    assert "*Carlo*:" in named and "*Speaker 2*:" in named, named
    [sent] = fake_mistral.transcription_requests
    assert sent.field("diarize") == "true" and "speaker_references" not in sent.names


async def test_enrolment_is_refused_plainly_when_the_name_cannot_be_looked_up(slack_harness, fake_slack: FakeSlack,
                                                                              local_engine) -> None:
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h: SlackHarness = await slack_harness(local_engine)
    note = fake_slack.user_message(CHANNEL, [ogg(fake_slack, ENROL / "carlo.ogg", 26.0)], user="U0CARLO")
    fake_slack.errors["users.info"] = ["", "user_not_found"]  # the admin check answers, the name look-up fails
    answer = await h.shortcut(fake_slack.message_shortcut(note, callback_id="voxnote_enrol", user="U0ADMIN"))
    assert "could not look up that person's name" in answer["text"]
    assert not [m for m in fake_slack.bot_messages(CHANNEL, note["ts"]) if m.get("blocks")]
