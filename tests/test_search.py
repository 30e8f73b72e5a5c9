"""`/voxnote search <words>` as people use it: real slack-bolt and discord.py against the fakes, the
console adapter, and the `voxnote search` CLI as a subprocess, over real SQLite files.

A note is transcribed, then found by its words (highlighted, with who, when and a link), only in the
channel it was posted in, and no longer once deleted, forgotten or past the retention."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import aiosqlite
from rich.console import Console

from adapters.console import run_console
from bot.config import Settings
from bot.core import Voxnote
from bot.models import AudioNote, Platform, Segment
from storage import SQLiteStore
from tests.fixtures.discord import ADMIN_PERMISSIONS, EPHEMERAL, FakeDiscord
from tests.fixtures.slack import FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = [Segment(text="The quarterly budget review moves to Thursday.", start=0, end=2)]
OGG = b"OggS\x00\x02" + bytes(2000)
CHANNEL, OTHER = "C0GENERAL", "C0RANDOM"


# --- Slack ------------------------------------------------------------------------------------------

async def _slack_note(h, fake: FakeSlack, channel: str, user: str = "U0ALICE") -> dict:
    msg = fake.user_message(channel, [fake.add_file(OGG)], user=user)
    await h.deliver(fake.event_callback(msg))
    await fake.wait_for(lambda: any(m["text"] == SEGMENTS[0].text for m in fake.bot_messages(channel, msg["ts"])))
    await h.core.wait_idle()
    return msg


async def test_slack_search_finds_the_note_in_this_channel_only(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    here = await _slack_note(h, fake_slack, CHANNEL, user="U0ALICE")
    there = await _slack_note(h, fake_slack, OTHER, user="U0BOB")
    posted_before = len(fake_slack.calls_to("chat.postMessage"))

    answer = await h.command("search budget THURSDAY", user="U0CAROL")
    assert answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert "*budget*" in text and "*Thursday*" in text and "**" not in text  # Slack's bold, not Markdown's
    assert "<@U0ALICE>" in text  # who posted it, as Slack shows a person
    link = f"https://voxnote-test.slack.com/archives/{CHANNEL}/p{here['ts'].replace('.', '')}"
    assert link in text
    assert OTHER not in text and "U0BOB" not in text and there["ts"].replace(".", "") not in text
    assert time.strftime("%Y-%m-%d", time.gmtime()) in text
    # The answer goes to the asker alone: nothing was posted in the channel for it.
    assert len(fake_slack.calls_to("chat.postMessage")) == posted_before

    elsewhere = (await h.command("search budget", channel=OTHER))["text"]
    assert "<@U0BOB>" in elsewhere and "U0ALICE" not in elsewhere


async def test_slack_search_forgets_deleted_forgotten_and_expired_notes(slack_harness, fake_slack: FakeSlack) -> None:
    fake_slack.users["U0ADMIN"] = {"is_admin": True}
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    gone = await _slack_note(h, fake_slack, CHANNEL)
    await _slack_note(h, fake_slack, OTHER)
    await h.deliver(fake_slack.event_callback(fake_slack.user_deletes(gone)))
    await fake_slack.wait_for(lambda: not fake_slack.bot_messages(CHANNEL, thread_ts=gone["ts"]))
    assert "No stored transcript in this channel" in (await h.command("search budget"))["text"]

    assert "budget" in (await h.command("search budget", channel=OTHER))["text"]
    await h.command("forget", user="U0ADMIN", channel=OTHER)
    assert "No stored transcript" in (await h.command("search budget", channel=OTHER))["text"]

    old = await _slack_note(h, fake_slack, CHANNEL)
    assert old["ts"].replace(".", "") in (await h.command("search budget"))["text"]
    async with aiosqlite.connect(h.settings.db_path) as db:  # the note is now past the retention
        aged = time.time() - 86400 * (h.settings.retention_days + 1)
        await db.execute("UPDATE transcripts SET created_at = ?", (aged,))
        await db.commit()
    assert await h.store.purge_transcripts(h.settings.retention_days) == 1  # what the core's retention runs
    assert "No stored transcript" in (await h.command("search budget"))["text"]


async def test_slack_search_input_never_breaks_and_empty_gets_usage(slack_harness, fake_slack: FakeSlack) -> None:
    h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    await _slack_note(h, fake_slack, CHANNEL)
    assert "usage: `/voxnote search &lt;words&gt;`" in (await h.command("search"))["text"]
    assert "usage" in (await h.command('search "" * -'))["text"]
    for typed in ('"budget', "budget*", "NEAR(budget review)", "body:budget", "-budget", "<!channel> budget"):
        text = (await h.command(f"search {typed}"))["text"]
        assert "*budget*" in text or "No stored transcript" in text, (typed, text)
        assert "<!channel>" not in text  # what a person typed is echoed escaped
    assert "search &lt;words&gt;" in (await h.command("help"))["text"]


# --- Discord ----------------------------------------------------------------------------------------

async def ask(fake: FakeDiscord, payload: dict) -> str:
    await fake.interact(payload)
    answers = await fake.wait_for(lambda: [a for a in fake.answers_to(payload) if a["data"].get("content")])
    return "\n".join(a["data"]["content"] for a in answers)


async def test_discord_search_is_ephemeral_scoped_and_forgets(discord_harness, fake_discord: FakeDiscord) -> None:
    other = fake_discord.add_text_channel("random")
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    note = await fake_discord.post_voice_message(OGG)
    await h.transcribed(note)
    elsewhere = await fake_discord.post_voice_message(OGG, channel_id=other["id"])
    await h.transcribed(elsewhere)

    command = fake_discord.slash_command("search", {"words": "budget thursday"})
    text = await ask(fake_discord, command)
    assert fake_discord.answers_to(command)[0]["data"]["flags"] & EPHEMERAL
    assert "**budget**" in text and "**Thursday**" in text
    assert f"<@{fake_discord.alice['id']}>" in text
    assert f"https://discord.com/channels/{fake_discord.guild_id}/{fake_discord.channel_id}/{note['id']}" in text
    assert elsewhere["id"] not in text and other["id"] not in text

    in_other = await ask(fake_discord,
                         fake_discord.slash_command("search", {"words": "budget"}, channel_id=other["id"]))
    assert elsewhere["id"] in in_other and note["id"] not in in_other

    await fake_discord.user_deletes(note["id"])
    for _ in range(100):  # the deletion event is handled asynchronously
        if not await h.store.search_transcripts("budget", channel_ids=[fake_discord.channel_id]):
            break
        await asyncio.sleep(0.05)
    assert "No stored transcript" in await ask(fake_discord, fake_discord.slash_command("search", {"words": "budget"}))

    await ask(fake_discord, fake_discord.slash_command("forget", channel_id=other["id"], permissions=ADMIN_PERMISSIONS))
    assert "No stored transcript" in await ask(
        fake_discord, fake_discord.slash_command("search", {"words": "budget"}, channel_id=other["id"]))


async def test_discord_search_respects_the_retention(discord_harness, fake_discord: FakeDiscord) -> None:
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    note = await fake_discord.post_voice_message(OGG)
    await h.transcribed(note)
    assert note["id"] in await ask(fake_discord, fake_discord.slash_command("search", {"words": "budget"}))
    await h.close()
    # A restart with a retention the note is past: the core's retention purge runs at start.
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0), retention_days=0)
    for _ in range(100):
        if not await h.store.search_transcripts("budget"):
            break
        await asyncio.sleep(0.05)
    assert "No stored transcript" in await ask(fake_discord, fake_discord.slash_command("search", {"words": "budget"}))


# --- console and CLI --------------------------------------------------------------------------------

async def test_console_search_finds_a_transcribed_file(tmp_path: Path) -> None:
    audio = tmp_path / "standup.ogg"
    audio.write_bytes(OGG)
    settings = Settings(_env_file=None, db_path=tmp_path / "v.db")  # type: ignore[call-arg]
    store = await SQLiteStore.open(settings.db_path)
    core = Voxnote(settings, store, ScriptedTranscriber(SEGMENTS, delay=0))
    await core.start()
    out = io.StringIO()
    try:
        await run_console(core, io.StringIO(f"{audio}\n"), Console(file=out, width=200))
        # A second session reads the same database: search, then forget, then search again.
        lines = "/voxnote search budget\n/voxnote search lunch\n/voxnote forget\ny\n/voxnote search budget\n"
        out = io.StringIO()
        await run_console(core, io.StringIO(lines), Console(file=out, width=200))
    finally:
        await core.stop(grace=5)
        await store.close()
    printed = out.getvalue()
    hit, rest = printed.split("No stored transcript", 1)
    assert "budget" in hit and "Thursday" in hit and "**" not in hit  # bold on a terminal, no markers
    assert "message n1-standup.ogg" in hit  # the note's tag in the console's replies
    assert rest.count("No stored transcript") == 1  # `lunch` finds nothing, nor `budget` once forgotten
    assert "Deleted 1 stored transcript" in rest


def _voxnote(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", "search", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={**env, "VOXNOTE_DB_PATH": str(db)})


async def test_cli_search_reads_the_local_database(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    store = await SQLiteStore.open(db)
    transcript = ScriptedTranscriber(SEGMENTS).transcript()
    for channel, mid in ((CHANNEL, "1.1"), (OTHER, "2.2")):
        note = AudioNote(platform=Platform.slack, workspace_id="T1", channel_id=channel, message_id=mid,
                         author_id="U0ALICE", attachment_id="F" + mid, filename="a.ogg")
        await store.save_transcript(note, transcript)
    await store.close()

    every = _voxnote("budget", "thursday", db=db)
    assert every.returncode == 0, every.stderr
    assert f"#{CHANNEL} message 1.1" in every.stdout and f"#{OTHER} message 2.2" in every.stdout
    assert "budget" in every.stdout and "U0ALICE" in every.stdout and "\x02" not in every.stdout

    one = _voxnote("budget", "--channel", OTHER, db=db)
    assert one.returncode == 0 and CHANNEL not in one.stdout and OTHER in one.stdout

    none = _voxnote("lunch", db=db)
    assert none.returncode == 1 and "no stored transcript" in none.stderr
    assert _voxnote('"', "*", db=db).returncode == 2  # nothing searchable: the usage line

    store = await SQLiteStore.open(db)
    await store.forget_channel(Platform.slack, "T1", OTHER)
    await store.close()
    assert OTHER not in _voxnote("budget", db=db).stdout


# --- how a hit is written -----------------------------------------------------------------------------

def test_a_snippet_carries_no_markdown_of_its_own() -> None:
    from bot.search import MAX_SNIPPET_CHARS, snippet_text
    from storage.search_text import MARK_END, MARK_START

    raw = f"say *loud* ||secret|| `code` ~gone~ > quoted _it_ {MARK_START}budget{MARK_END} and\nmore"
    assert snippet_text(raw) == "say loud secret code gone quoted it **budget** and more"
    cut = snippet_text("x" * 1000 + f" {MARK_START}budget{MARK_END}")
    assert len(cut) <= MAX_SNIPPET_CHARS + 1 and "**" not in cut
    half = snippet_text("y " * 109 + f"{MARK_START}budgetbudget{MARK_END}")  # a highlight cut mid-word
    assert half.count("**") == 2


def test_slack_keeps_user_mentions_only_when_asked_and_never_channel_ones() -> None:
    from adapters.slack.mrkdwn import to_mrkdwn

    text = "— <@U0ALICE> said <!channel> <!here> <@U0BOB|bob> **bold**"
    assert to_mrkdwn(text) == "— &lt;@U0ALICE&gt; said &lt;!channel&gt; &lt;!here&gt; &lt;@U0BOB|bob&gt; *bold*"
    assert to_mrkdwn(text, user_mentions=True) == (
        "— <@U0ALICE> said &lt;!channel&gt; &lt;!here&gt; &lt;@U0BOB|bob&gt; *bold*")


def test_permalinks_as_the_platforms_write_them() -> None:
    from adapters.discord_.platform import DiscordPlatform
    from adapters.slack.platform import SlackPlatform

    slack = SlackPlatform(client=None)  # type: ignore[arg-type]  # links need no Web API call
    assert slack.permalink("T1", "C1", "1712.000200", "1712.000200") is None  # before auth.test said where
    slack.workspace_url = "https://acme.slack.com/"
    assert slack.permalink("T1", "C1", "1712.000200", "1712.000200") == "https://acme.slack.com/archives/C1/p1712000200"
    assert slack.permalink("T1", "C1", "1712.000300", "1712.000200") == (
        "https://acme.slack.com/archives/C1/p1712000300?thread_ts=1712.000200&cid=C1")
    discord = DiscordPlatform()
    assert discord.permalink("42", "7", "99", None) == "https://discord.com/channels/42/7/99"
    assert discord.permalink("dm", "7", "99", None) == "https://discord.com/channels/@me/7/99"


async def test_five_long_hits_fit_one_discord_message(tmp_path: Path) -> None:
    from adapters.discord_.platform import DiscordPlatform
    from bot.search import search_answer

    store = await SQLiteStore.open(tmp_path / "v.db")
    words = " ".join(f"longword{i:04d}" for i in range(400))
    for i in range(7):
        note = AudioNote(platform=Platform.discord, workspace_id="123456789012345678", channel_id="223456789012345678",
                         message_id=f"3234567890123456{i:02d}", author_id="423456789012345678",
                         attachment_id=f"a{i}", filename="voice-message.ogg")
        await store.save_transcript(note, ScriptedTranscriber([Segment(text=f"{words} budget {words}", start=0, end=1)]
                                                              ).transcript())
    answer = await search_answer(store, Platform.discord, "123456789012345678", "223456789012345678",
                                 "budget longword0001", DiscordPlatform())
    await store.close()
    assert answer.count("https://discord.com/channels/") == 5
    assert len(answer) <= 2000, len(answer)


async def test_cli_search_reads_a_postgresql_database_too(postgres_backend) -> None:
    store = await postgres_backend.open()
    note = AudioNote(platform=Platform.discord, workspace_id="G1", channel_id="7", message_id="99",
                     author_id="42", attachment_id="a", filename="voice-message.ogg")
    await store.save_transcript(note, ScriptedTranscriber(SEGMENTS).transcript())
    await store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_"))}
    found = subprocess.run([sys.executable, "-m", "bot.cli", "search", "thursday", "--platform", "discord"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT,
                           env={**env, "VOXNOTE_DATABASE_URL": postgres_backend.database_url,
                                "VOXNOTE_DB_PATH": str(postgres_backend.db_path)})
    assert found.returncode == 0, found.stderr
    assert "discord G1 #7 message 99" in found.stdout and "Thursday" in found.stdout
    assert not postgres_backend.db_path.exists()  # the PostgreSQL store, not a SQLite file beside it
