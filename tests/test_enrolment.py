"""Enrolling a voice, platform-free (bot/speakers.py) on real stores and a real recording: nothing is stored
before the person's own yes, nobody else can answer for them, a request expires, names are checked."""

from __future__ import annotations

import asyncio

import pytest

from bot.commands import CommandContext, run_command
from bot.errors import CommandError, NotAllowed
from bot.models import AudioNote, Platform
from bot.speakers import Speakers, check_name
from tests.test_named_speakers_real import ENROL

NOTE = AudioNote(platform=Platform.slack, workspace_id="T1", channel_id="C1", message_id="171.1",
                 attachment_id="F1", filename="carlo.ogg")
ADMIN = CommandContext(platform=Platform.slack, workspace_id="T1", channel_id="C1", user_id="U0ADMIN", is_admin=True)
MEMBER = CommandContext(platform=Platform.slack, workspace_id="T1", channel_id="C1", user_id="U0BOB", is_admin=False)
CARLO = (ENROL / "carlo.ogg").read_bytes()


@pytest.fixture
def speakers(store, diarizer) -> Speakers:
    return Speakers(store, max_audio_bytes=10_000_000, model=diarizer)


async def test_only_the_person_can_accept_and_only_then_is_it_stored(speakers, store) -> None:
    pending = await speakers.request(ADMIN, NOTE, CARLO, name="Carlo", user_id="U0CARLO")
    assert len(pending.voice.embedding) == 256
    assert await store.list_voiceprints(Platform.slack, "T1") == []
    with pytest.raises(NotAllowed):
        await speakers.answer(pending.id, "U0ADMIN", accept=True)  # not even the admin who asked
    assert await store.list_voiceprints(Platform.slack, "T1") == []
    assert (await speakers.answer(pending.id, "U0CARLO", accept=True)).startswith("Enrolled")
    [voice] = await store.list_voiceprints(Platform.slack, "T1")
    assert voice.consented_by == "U0CARLO" and voice.enrolled_by == "U0ADMIN" and voice.source_key == NOTE.idempotency_key
    with pytest.raises(CommandError, match="expired"):  # answered once: gone
        await speakers.answer(pending.id, "U0CARLO", accept=True)
    assert set(await speakers.prints(Platform.slack, "T1")) == {"Carlo"}


async def test_a_no_or_an_expiry_keeps_nothing(store, diarizer) -> None:
    speakers = Speakers(store, max_audio_bytes=10_000_000, model=diarizer)
    pending = await speakers.request(ADMIN, NOTE, CARLO, name="Carlo", user_id="U0CARLO")
    assert (await speakers.answer(pending.id, "U0CARLO", accept=False)).startswith("Declined")
    brief = Speakers(store, max_audio_bytes=10_000_000, model=diarizer, ttl_s=0.05)
    late = await brief.request(ADMIN, NOTE, CARLO, name="Carlo", user_id="U0CARLO")
    await asyncio.sleep(0.1)
    with pytest.raises(CommandError, match="expired"):
        await brief.answer(late.id, "U0CARLO", accept=True)
    assert await store.list_voiceprints(Platform.slack, "T1") == []


async def test_refusals_before_any_work(speakers) -> None:
    with pytest.raises(NotAllowed):
        await speakers.request(MEMBER, NOTE, CARLO, name="Carlo", user_id="U0CARLO")
    with pytest.raises(CommandError, match="too little speech"):
        await speakers.request(ADMIN, NOTE, _silent_ogg(), name="Carlo", user_id="U0CARLO")
    with pytest.raises(CommandError, match="cannot be enrolled"):
        await speakers.request(ADMIN, NOTE, b"not audio at all", name="Carlo", user_id="U0CARLO")


def _silent_ogg() -> bytes:
    import subprocess

    return subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3",
                           "-c:a", "libopus", "-f", "ogg", "-"], capture_output=True, check=True).stdout


@pytest.mark.parametrize("name", ["", "Speaker 2", "speaker_1", "<@U0BOB>", "*bold*", "x" * 41])
def test_names_that_would_mislead_are_refused(name: str) -> None:
    with pytest.raises(CommandError):
        check_name(name)


def test_names_are_tidied() -> None:
    assert check_name("  Carlo   Flora ") == "Carlo Flora"


async def test_list_and_remove_by_command(speakers, store) -> None:
    pending = await speakers.request(ADMIN, NOTE, CARLO, name="Carlo", user_id="U0CARLO")
    await speakers.answer(pending.id, "U0CARLO", accept=True)
    listed = await run_command(store, MEMBER, "speaker list")  # anyone may see who is enrolled
    assert "Carlo" in listed and "U0ADMIN" in listed and "U0CARLO" in listed
    with pytest.raises(NotAllowed):
        await run_command(store, MEMBER, "speaker remove Carlo")
    carlo = CommandContext(platform=Platform.slack, workspace_id="T1", channel_id="C9", user_id="U0CARLO",
                           is_admin=False)
    assert "Removed the voice of Carlo" in await run_command(store, carlo, "speaker remove carlo")  # their own
    assert "No enrolled voices" in await run_command(store, MEMBER, "speaker list")
    with pytest.raises(CommandError, match="Enrol this voice"):
        await run_command(store, ADMIN, "speaker add Carlo")
