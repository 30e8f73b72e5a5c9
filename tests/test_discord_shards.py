"""Replicas split Discord's gateway by configuration (VOXNOTE_DISCORD_SHARD_COUNT / _SHARD_IDS): each
identifies with its shard, receives only the guilds Discord routes to it ((guild_id >> 22) % count, as the
fake does strictly), and any replica's workers answer any note through REST. Real discord.py
(AutoShardedClient) against the fake gateway."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.models import Segment
from tests.fixtures.stores import needs_postgres
from tests.fixtures.transcriber import ScriptedTranscriber

OGG = b"OggS\x00\x02" + bytes(500)
SEGMENTS = [Segment(text="Heard on the right shard.", start=0, end=1)]


@pytest.mark.parametrize("shard", [0, 1])
async def test_a_replica_identifies_with_its_shard_and_gets_only_its_guilds(discord_harness, fake_discord, shard):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber, discord_shard_count=2, discord_shard_ids=[shard])
    assert [i["shard"] for i in fake_discord.identifies] == [[shard, 2]]
    guild_here = fake_discord.shard_of(fake_discord.guild_id) == shard
    note = await fake_discord.post_voice_message(OGG)
    if guild_here:
        reply = await h.transcribed(note)
        assert reply["content"] == SEGMENTS[0].text
        assert fake_discord.undelivered == []
    else:
        # Discord sends this guild's events to the other shard: this replica never hears of the note.
        assert [event for event, _ in fake_discord.undelivered] == ["MESSAGE_CREATE"]
        await h.core.wait_idle()
        assert transcriber.requests == [] and fake_discord.replies_to(note["id"]) == []


@pytest.mark.parametrize("chat_databases", [pytest.param("postgres", marks=needs_postgres)], indirect=True)
async def test_a_note_heard_on_one_shard_is_answered_by_another_replicas_worker(discord_harness, fake_discord):
    """Two replicas on one PostgreSQL database, one shard each; the one that hears the note runs no
    workers, so the other replica's worker takes the job and replies through REST."""
    home = fake_discord.shard_of(fake_discord.guild_id)
    listener = ScriptedTranscriber(SEGMENTS, delay=0)
    worker = ScriptedTranscriber(SEGMENTS, delay=0)
    hears = await discord_harness(listener, discord_shard_count=2, discord_shard_ids=[home], jobs_concurrency=0)
    answers = await discord_harness(worker, discord_shard_count=2, discord_shard_ids=[1 - home])
    assert sorted(i["shard"][0] for i in fake_discord.identifies) == [0, 1]
    note = await fake_discord.post_voice_message(OGG)
    reply = await answers.transcribed(note)
    # `transcribed` can return on the placeholder: the job is the other replica's until it releases the
    # hold, so this replica's `wait_idle` may look before it has any work (a race seen once in CI).
    await fake_discord.wait_for(lambda: fake_discord.messages[reply["id"]]["content"] == SEGMENTS[0].text, timeout=60)
    reply = fake_discord.messages[reply["id"]]
    assert reply["content"] == SEGMENTS[0].text
    assert len(worker.requests) == 1 and listener.requests == []
    assert fake_discord.undelivered == []
    assert hears.core.live_workers == 0


def test_shard_ids_must_fit_the_shard_count():
    with pytest.raises(ValueError, match="needs VOXNOTE_DISCORD_SHARD_COUNT"):
        Settings(_env_file=None, discord_shard_ids="1")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="from 0 to 1"):
        Settings(_env_file=None, discord_shard_count=2, discord_shard_ids="0,2")  # type: ignore[call-arg]
    assert Settings(_env_file=None, discord_shard_count=4, discord_shard_ids="3, 1").discord_shard_ids == [3, 1]  # type: ignore[call-arg]
