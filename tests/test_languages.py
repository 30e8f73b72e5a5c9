"""Candidate languages (`/voxnote language en es`) and flag reactions that ask for a note in a language.

The real clip: a 3.4 s Spanish prompt by a real speaker that Whisper base's free detection takes for
Italian (and transcribes in Italian); restricted to English or Spanish it is right word for word."""

from __future__ import annotations

import json

import pytest

from bot.commands import CommandContext, run_command
from bot.errors import CommandError
from bot.engine.local import likeliest
from bot.flags import slack_flag_language, unicode_flag_language
from bot.models import ChannelSettings, Platform, TranscriptionRequest, parse_languages
from tests.fixtures.discord import FakeDiscord
from tests.fixtures.engine import load_speech_clip, normalize_text
from tests.fixtures.slack import FakeSlack
from tests.test_cli import voxnote
from storage import SQLiteStore

CLIP = "allison_es_locked"
ADMIN = CommandContext(platform=Platform.slack, workspace_id="T1", channel_id="C1", user_id="U1", is_admin=True)


@pytest.fixture
async def tmp_store(tmp_path):
    store = await SQLiteStore.open(tmp_path / "v.db")
    yield store
    await store.close()


def spanish_wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalize_text(reference), normalize_text(hypothesis)))


def test_language_lists_parse_like_people_write_them() -> None:
    assert parse_languages("en fr") == ["en", "fr"]
    assert parse_languages("EN, fr,en") == ["en", "fr"]
    assert parse_languages("auto") == [] and parse_languages(None) == []
    with pytest.raises(ValueError, match="xx"):
        parse_languages("en xx")
    with pytest.raises(ValueError, match="at most"):
        parse_languages("en fr de es it pt")


async def test_language_command_takes_one_code_or_candidates(tmp_store) -> None:
    assert "detected among en, es" in await run_command(tmp_store, ADMIN, "language en es")
    settings = await tmp_store.get_settings(Platform.slack, "T1", "C1")
    assert settings.language is None and settings.languages == ["en", "es"]
    assert "auto among en, es" in await run_command(tmp_store, ADMIN, "settings")
    request = TranscriptionRequest.for_settings(settings, file=b"x")
    assert request.language is None and request.languages == ["en", "es"]

    await run_command(tmp_store, ADMIN, "language fr")
    settings = await tmp_store.get_settings(Platform.slack, "T1", "C1")
    assert settings.language == "fr" and settings.languages == []
    await run_command(tmp_store, ADMIN, "language auto")
    assert await tmp_store.get_settings(Platform.slack, "T1", "C1") == ChannelSettings()
    with pytest.raises(CommandError, match="unknown language"):
        await run_command(tmp_store, ADMIN, "language en zz")


def test_candidates_pick_the_likeliest_of_them_and_renormalise() -> None:
    probs = [("la", 0.34), ("es", 0.16), ("en", 0.11), ("te", 0.07)]
    assert likeliest(probs) == ("la", 0.34)
    code, p = likeliest(probs, ["en", "es"])
    assert code == "es" and p == pytest.approx(0.16 / 0.27)
    assert likeliest([("en", 1.0)], ["fr"]) == ("en", 1.0)  # an English-only model: nothing to choose


def test_flags_name_languages_on_both_platforms() -> None:
    assert slack_flag_language("fr") == "fr" and slack_flag_language("flag-de") == "de"
    assert slack_flag_language("flag-mx") == "es" and slack_flag_language("uk") == "en"
    assert slack_flag_language("flag-be") is None  # Dutch or French: not guessed
    assert slack_flag_language("memo") is None and slack_flag_language("in") is None
    assert unicode_flag_language("\U0001F1EB\U0001F1F7") == "fr"  # 🇫🇷
    assert unicode_flag_language("\U0001F1EA\U0001F1F8") == "es"  # 🇪🇸
    assert unicode_flag_language("\U0001F1E8\U0001F1ED") is None  # 🇨🇭
    assert unicode_flag_language("\N{MEMO}") is None and unicode_flag_language("ab") is None


@pytest.mark.slow
async def test_candidates_fix_a_short_note_free_detection_gets_wrong(local_engine) -> None:
    data, expected = load_speech_clip(CLIP)
    free = await local_engine.complete(TranscriptionRequest(file=data, filename="a.ogg", final_from_done=True))
    assert free.language != "es" and spanish_wer(expected, free.text) > 0.5
    among = await local_engine.complete(
        TranscriptionRequest(file=data, filename="a.ogg", languages=["en", "es"], final_from_done=True)
    )
    assert among.language == "es" and spanish_wer(expected, among.text) < 0.15


@pytest.mark.slow
def test_cli_takes_a_language_list() -> None:
    from tests.fixtures.engine import clip_path

    result = voxnote("transcribe", "--language", "en,es", "-f", "json", str(clip_path(CLIP)))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["language"] == "es" and "bloqueada" in answer["text"].lower()


@pytest.mark.slow
async def test_slack_flag_reaction_redoes_the_note_in_its_reply(slack_harness, fake_slack: FakeSlack, local_engine) -> None:
    data, expected = load_speech_clip(CLIP)
    h = await slack_harness(local_engine)
    msg = fake_slack.user_message("C0GENERAL", [fake_slack.add_file(data, name="nota.ogg", duration_ms=3400)])
    await h.deliver(fake_slack.event_callback(msg))
    await fake_slack.wait_for(lambda: fake_slack.bot_messages("C0GENERAL"))
    await h.core.wait_idle(timeout=120)
    [reply] = fake_slack.bot_messages("C0GENERAL", thread_ts=msg["ts"])
    assert spanish_wer(expected, reply["text"]) > 0.5  # free detection: not Spanish

    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added("C0GENERAL", msg["ts"], reaction="flag-mx")))
    await fake_slack.wait_for(lambda: spanish_wer(expected, fake_slack.bot_messages("C0GENERAL")[0]["text"]) < 0.15,
                              timeout=120)
    await h.core.wait_idle(timeout=120)
    assert [m["ts"] for m in fake_slack.bot_messages("C0GENERAL")] == [reply["ts"]]  # the same reply, edited
    transcript = await h.store.get_transcript(f"slack:{fake_slack.team_id}:C0GENERAL:{msg['ts']}:{msg['files'][0]['id']}")
    assert transcript is not None and transcript.language == "es"

    # The same flag again (or a second person's) runs nothing more.
    edits = len(fake_slack.updates_of(reply["ts"]))
    await h.deliver(fake_slack.event_callback(fake_slack.reaction_added("C0GENERAL", msg["ts"], reaction="es", user="U0CAROL")))
    await h.core.wait_idle(timeout=30)
    assert len(fake_slack.updates_of(reply["ts"])) == edits


@pytest.mark.slow
async def test_discord_flag_reaction_redoes_the_note_in_its_reply(discord_harness, fake_discord: FakeDiscord, local_engine) -> None:
    data, expected = load_speech_clip(CLIP)
    h = await discord_harness(local_engine)
    note = await fake_discord.post_voice_message(data, duration=3.4)
    reply = await h.transcribed(note, timeout=120)
    assert spanish_wer(expected, reply["content"]) > 0.5

    await fake_discord.dispatch("MESSAGE_REACTION_ADD", fake_discord.reaction(note, "\U0001F1EA\U0001F1F8"))
    await fake_discord.wait_for(
        lambda: spanish_wer(expected, fake_discord.messages[reply["id"]]["content"]) < 0.15, timeout=120
    )
    await h.core.wait_idle(timeout=120)
    assert [r["id"] for r in fake_discord.replies_to(note["id"])] == [reply["id"]]


def test_serve_takes_candidates_as_a_comma_separated_language(service_factory, scripted_transcriber, tmp_path) -> None:
    import httpx

    from bot.models import Segment
    from tests.fixtures.service import service_settings

    svc = service_factory(service_settings(tmp_path), scripted_transcriber([Segment(text="Hola.", start=0, end=1)], delay=0))
    url = f"{svc.url}/v1/audio/transcriptions"
    files = {"file": ("a.ogg", b"OggS")}
    assert httpx.post(url, data={"model": "whisper-1", "language": "en,es"}, files=files).status_code == 200
    request = svc.app.state.service.transcriber.requests[-1]
    assert request.language is None and request.languages == ["en", "es"]
    assert httpx.post(url, data={"model": "whisper-1", "language": "es"}, files=files).status_code == 200
    assert svc.app.state.service.transcriber.requests[-1].language == "es"
    refused = httpx.post(url, data={"model": "whisper-1", "language": "en,zz"}, files=files)
    assert refused.status_code == 422 and refused.json()["param"] == "language"


async def test_a_redo_asked_while_the_job_runs_runs_once_it_ends(tmp_store) -> None:
    from bot.models import AudioNote
    from storage import JobStatus

    note = AudioNote(platform=Platform.slack, workspace_id="T1", channel_id="C1", message_id="1.0", filename="a.ogg")
    assert await tmp_store.add_job(note)
    job = await tmp_store.lease_job(60, [Platform.slack])
    assert job is not None and job.note.language is None
    await tmp_store.mark_extras_posted(note.idempotency_key, 2)

    assert await tmp_store.redo_job(note.model_copy(update={"language": "es"}))
    assert (await tmp_store.get_job(note.idempotency_key)).status == JobStatus.running  # not taken twice
    assert await tmp_store.lease_job(60, [Platform.slack]) is None
    await tmp_store.finish_job(note.idempotency_key, JobStatus.done)
    again = await tmp_store.lease_job(60, [Platform.slack])
    assert again is not None and again.note.language == "es"
    assert await tmp_store.extras_posted(note.idempotency_key) == 0  # the new text's continuations go out
    await tmp_store.finish_job(note.idempotency_key, JobStatus.done)
    assert (await tmp_store.get_job(note.idempotency_key)).status == JobStatus.done  # once, not forever

    # A finished (or failed) job is queued at once, with a fresh attempt budget.
    await tmp_store.requeue_job(note.idempotency_key, 0, "x")
    await tmp_store.lease_job(60, [Platform.slack])
    await tmp_store.finish_job(note.idempotency_key, JobStatus.failed, "broken")
    assert await tmp_store.redo_job(note.model_copy(update={"language": "fr"}))
    job = await tmp_store.get_job(note.idempotency_key)
    assert job.status == JobStatus.queued and job.attempts == 0 and job.error is None and job.note.language == "fr"
    assert not await tmp_store.redo_job(note.model_copy(update={"message_id": "2.0", "language": "fr"}))
