"""English translations: `/voxnote translate on` for a channel, or a 🌐 reaction on one note.

Real French speech (a 3.6 s prompt by June Wallack) and synthetic German through the fakes and the built-in engine, which
translates with Whisper's own translate task; a remote transcriber's text goes to the chat endpoint."""

from __future__ import annotations

import pytest

from bot.models import Segment
from tests.fixtures.chat import FakeChat
from tests.fixtures.discord import FakeDiscord
from tests.fixtures.engine import load_speech_clip
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CLIP = "june_fr_onlyperson"
CHANNEL = "C0GENERAL"
ENGLISH = "You are the only participant in this conference."


def words(text: str) -> set[str]:
    return {w.strip(".,!?*_:").lower() for w in text.split()}


async def note_in_a_translating_channel(slack_harness, fake_slack: FakeSlack, local_engine, clip: str,
                                        duration_ms: int = 3000) -> dict:
    """The bot's final reply to `clip` posted in a channel an admin set to `translate on`."""
    data, _ = load_speech_clip(clip)
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(local_engine)
    await h.command("translate on", user="U0ADMIN")
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(data, name="note.ogg", duration_ms=duration_ms)])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: fake_slack.bot_messages(CHANNEL))
    await h.core.wait_idle(timeout=120)
    [reply] = fake_slack.bot_messages(CHANNEL, thread_ts=msg["ts"])
    return reply


@pytest.mark.slow
async def test_a_channel_with_translation_on_gets_english_under_french_notes(
    slack_harness, fake_slack: FakeSlack, local_engine
) -> None:
    reply = await note_in_a_translating_channel(slack_harness, fake_slack, local_engine, CLIP, 3600)
    transcript, _, translation = reply["text"].partition("🌐")
    assert "participant" in transcript and "conférence" in transcript  # the French first, as said
    assert "English" in translation and {"only", "participant", "conference"} <= words(translation)
    updates = [u.args["text"] for u in fake_slack.updates_of(reply["ts"])]
    assert "🌐" not in updates[-2] and "🌐" in updates[-1]  # the final came first, the translation after


@pytest.mark.slow
async def test_german_notes_get_english_too(slack_harness, fake_slack: FakeSlack, local_engine) -> None:
    # Synthetic German (espeak-ng, see make_clips.sh): no package ships German speech by real people.
    reply = await note_in_a_translating_channel(slack_harness, fake_slack, local_engine, "espeak_de", 5900)
    transcript, _, translation = reply["text"].partition("🌐")
    assert "Büro" in transcript and "Bericht" in transcript  # the German first, as said
    assert {"tomorrow", "morning", "send"} <= words(translation)


@pytest.mark.slow
async def test_english_notes_are_not_translated(slack_harness, fake_slack: FakeSlack, local_engine) -> None:
    reply = await note_in_a_translating_channel(slack_harness, fake_slack, local_engine, "arctic_a0009")
    assert "🌐" not in reply["text"]


@pytest.mark.slow
async def test_globe_reaction_adds_the_translation_in_the_same_reply(
    discord_harness, fake_discord: FakeDiscord, local_engine
) -> None:
    data, _ = load_speech_clip(CLIP)
    h = await discord_harness(local_engine)
    note = await fake_discord.post_voice_message(data, duration=3.6)
    reply = await h.transcribed(note, timeout=120)
    assert "🌐" not in reply["content"] and "conférence" in reply["content"]
    edits_before = len(fake_discord.edits_of(reply["id"]))

    await fake_discord.dispatch("MESSAGE_REACTION_ADD", fake_discord.reaction(note, "\N{GLOBE WITH MERIDIANS}"))
    await fake_discord.wait_for(lambda: "🌐" in fake_discord.messages[reply["id"]]["content"], timeout=120)
    await h.core.wait_idle(timeout=120)
    content = fake_discord.messages[reply["id"]]["content"]
    assert "conférence" in content.partition("🌐")[0]  # the transcript stays, reused, not redone
    assert {"only", "participant", "conference"} <= words(content.partition("🌐")[2])
    assert [r["id"] for r in fake_discord.replies_to(note["id"])] == [reply["id"]]

    # Asked again: nothing more to do.
    edits = len(fake_discord.edits_of(reply["id"]))
    assert edits > edits_before
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", fake_discord.reaction(note, "\N{GLOBE WITH MERIDIANS}"))
    await h.core.wait_idle(timeout=30)
    assert len(fake_discord.edits_of(reply["id"])) == edits


async def test_without_the_builtin_engine_the_chat_endpoint_translates(
    slack_harness, fake_slack: FakeSlack, fake_chat: FakeChat
) -> None:
    fake_chat.reply_content("Hello everyone.")
    engine = ScriptedTranscriber([Segment(text="Bonjour à tous.", start=0, end=1)], delay=0, language="fr")
    assert not hasattr(engine, "translate")
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(engine, llm_base_url=fake_chat.url, llm_api_key="k", llm_model="fake-small")
    await h.command("translate on", user="U0ADMIN")
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS", name="note.ogg")])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: "Hello everyone." in (fake_slack.bot_messages(CHANNEL) or [{"text": ""}])[0]["text"])
    await h.core.wait_idle()
    [request] = fake_chat.requests
    assert request.messages[-1]["content"] == "Bonjour à tous."


async def test_without_any_translator_the_reply_says_so(slack_harness, fake_slack: FakeSlack) -> None:
    engine = ScriptedTranscriber([Segment(text="Bonjour à tous.", start=0, end=1)], delay=0, language="fr")
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(engine, mistral_api_key=None)
    await h.command("translate on", user="U0ADMIN")
    msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS", name="note.ogg")])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: "🌐" in (fake_slack.bot_messages(CHANNEL) or [{"text": ""}])[0]["text"])
    await h.core.wait_idle()
    [reply] = fake_slack.bot_messages(CHANNEL)
    assert reply["text"].startswith("Bonjour à tous.") and "needs the built-in engine or a chat endpoint" in reply["text"]
