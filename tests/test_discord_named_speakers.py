"""Named speakers on Discord, end to end through discord.py and the fake Discord (issue 19): an admin uses
the "Enrol this voice" message command on a person's voice message, only that person's button click stores
the voice, a later diarized note (real audio, the real local engine) names them, `/voxnote speaker list`
shows them, and `/voxnote forget` in the channel the voice came from deletes it: later notes no longer
name them."""

from __future__ import annotations

import pytest

from bot.models import Platform
from tests.fixtures.discord import ADMIN_PERMISSIONS, EPHEMERAL, MEMBER_PERMISSIONS
from tests.test_discord_commands import ask
from tests.test_named_speakers_real import ENROL
from tests.test_slack_named_speakers import CALL


async def named_call(h, fake) -> str:
    note = await fake.post_message(fake.audio_message(CALL.read_bytes(), CALL.name, "audio/ogg"))
    reply = await h.transcribed(note, timeout=120)
    return reply["content"]


@pytest.mark.slow
async def test_enrol_with_consent_then_named_listed_and_forgotten(discord_harness, fake_discord, local_engine) -> None:
    h = await discord_harness(local_engine)
    carlo = fake_discord.make_user("Carlo")
    bob = fake_discord.make_user("bob")
    admin = dict(permissions=ADMIN_PERMISSIONS)
    await ask(fake_discord, fake_discord.slash_command("auto", {"state": "off"}, **admin))  # no transcript of the enrolment
    await ask(fake_discord, fake_discord.slash_command("diarize", {"state": "on"}, **admin))
    note = await fake_discord.post_voice_message((ENROL / "carlo.ogg").read_bytes(), duration=26.0, author=carlo)

    # A member without Manage Channels is refused; nothing is asked.
    refused = await ask(fake_discord, fake_discord.context_menu(note, name="Enrol this voice",
                                                                permissions=MEMBER_PERMISSIONS))
    assert "only admins" in refused
    menu = fake_discord.context_menu(note, name="Enrol this voice", **admin)
    assert "Asked Carlo to confirm" in await ask(fake_discord, menu)
    assert fake_discord.answers_to(menu)[0]["data"]["flags"] & EPHEMERAL  # the admin's answer is theirs alone
    [request] = await fake_discord.wait_for(
        lambda: [m for m in fake_discord.bot_messages() if m.get("components")])
    assert f"<@{carlo['id']}>" in request["content"]
    [yes, no] = [c["custom_id"] for c in request["components"][0]["components"]]
    assert yes.startswith("voxnote_consent:yes:") and no.startswith("voxnote_consent:no:")
    assert await h.store.list_voiceprints(Platform.discord, fake_discord.guild_id) == []

    # Bob clicks "Yes": an ephemeral refusal, nothing stored, the buttons stay.
    text = await ask(fake_discord, fake_discord.button_click(request, yes, user=bob))
    assert "only the person whose voice this is" in text
    assert await h.store.list_voiceprints(Platform.discord, fake_discord.guild_id) == []
    assert request["components"]

    # Carlo accepts: the request becomes the outcome, without buttons; the voice is stored.
    click = fake_discord.button_click(request, yes, user=carlo)
    await fake_discord.interact(click)
    await fake_discord.wait_for(lambda: request["content"].startswith("Enrolled"))
    assert request["components"] == []
    [voice] = await h.store.list_voiceprints(Platform.discord, fake_discord.guild_id)
    assert (voice.name, voice.user_id, voice.consented_by) == ("Carlo", carlo["id"], carlo["id"])
    assert "Carlo" in await ask(fake_discord, fake_discord.slash_command("speaker", {"action": "list"}))

    await ask(fake_discord, fake_discord.slash_command("auto", {"state": "on"}, **admin))
    named = await named_call(h, fake_discord)
    assert "**Carlo**:" in named and "**Speaker " in named, named

    # `/voxnote forget` here deletes the voice enrolled from this channel; later notes call him Speaker N.
    forgot = await ask(fake_discord, fake_discord.slash_command("forget", **admin))
    assert "enrolled voice of Carlo" in forgot
    assert await h.store.list_voiceprints(Platform.discord, fake_discord.guild_id) == []
    unnamed = await named_call(h, fake_discord)
    assert "Carlo" not in unnamed and "**Speaker " in unnamed, unnamed
