"""`voxnote run` with VOXNOTE_DATABASE_URL, as an operator starts it: a subprocess in Socket Mode against
the fake Slack and the fake transcription server. The note's job, reply and transcript are kept on the
PostgreSQL server, and no SQLite file appears anywhere under the bot's data folder."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fixtures.mistral import DEFAULT_TRANSCRIPT, FakeMistral
from tests.fixtures.slack import FakeSlack
from tests.fixtures.stores import Backend

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "C0GENERAL"


def _env(slack: FakeSlack, mistral: FakeMistral, data: Path, url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_", "MISTRAL_"))}
    return {
        **keep,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "VOXNOTE_SLACK_API_URL": slack.api_url,
        "VOXNOTE_TRANSCRIBER": "mistral",
        "VOXNOTE_MISTRAL_BASE_URL": mistral.url,
        # Where the SQLite file would go: it must stay unused.
        "VOXNOTE_DB_PATH": str(data / "voxnote.db"),
        "VOXNOTE_DATABASE_URL": url,
    }


async def test_voxnote_run_on_postgres_answers_a_slack_note_and_keeps_it_on_the_server(
    postgres_backend: Backend, fake_slack: FakeSlack, fake_mistral: FakeMistral, tmp_path: Path
) -> None:
    assert postgres_backend.database_url is not None
    data = tmp_path / "data"
    data.mkdir()
    log = tmp_path / "bot.log"
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=data,
            env=_env(fake_slack, fake_mistral, data, postgres_backend.database_url),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )
    try:
        await fake_slack.wait_connected(timeout=60)
        msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS-voice-note", duration_ms=2000)])
        await fake_slack.send_envelope("events_api", fake_slack.event_callback(msg))
        await fake_slack.wait_for(
            lambda: any(m["text"] == DEFAULT_TRANSCRIPT.text for m in fake_slack.bot_messages(CHANNEL, msg["ts"])),
            timeout=60,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
    assert code == 0, log.read_text()

    key = f"slack:{fake_slack.team_id}:{CHANNEL}:{msg['ts']}:{msg['files'][0]['id']}"
    assert await postgres_backend.value("SELECT status FROM jobs WHERE key = ?", key) == "done"
    assert await postgres_backend.value("SELECT reply_ref FROM jobs WHERE key = ?", key) is not None
    assert DEFAULT_TRANSCRIPT.text in await postgres_backend.value("SELECT data FROM transcripts WHERE job_key = ?", key)
    assert [p.name for p in data.rglob("*")] == []  # no voxnote.db, -wal, -shm, nor anything else
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".db", ".db-wal", ".db-shm", ".sqlite")]
