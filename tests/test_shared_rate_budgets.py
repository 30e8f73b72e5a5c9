"""Replicas on one PostgreSQL database share the platform's rate budgets: two Slack platforms (two stores,
two Web API clients, as two `voxnote run` processes have) posting and editing a burst in one channel of
the fake Slack, which answers 429 past its limits, draw none. Without the shared budget the same burst
draws 429s: each replica would spend the whole budget on its own.

The fake's limits are Slack's scaled up tenfold and the bot's budgets with them (as in tests/test_chaos.py),
so a burst takes seconds: what is checked is that two processes together keep one limit."""

from __future__ import annotations

import asyncio
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.platform import SlackPacing, SlackPlatform
from adapters.slack.runner import make_client
from bot.config import Settings
from bot.errors import Deferred
from bot.models import AudioNote, MessageRef, Platform
from storage import Store
from tests.fixtures.slack import FakeSlack, Limit
from tests.fixtures.stores import Backend

CHANNEL = "C0GENERAL"
POSTS_EACH = 12
#: Slack's chat.postMessage (1/s per channel, bursts of a few) and chat.update (Tier 3, 50/min) times ten;
#: the update burst is a little above one replica's own (10), well below two replicas'.
SCALED_LIMITS = {
    "chat.postMessage": Limit(per_minute=600, burst=4, per_channel=True),
    "chat.update": Limit(per_minute=500, burst=12),
}


def _client(fake: FakeSlack) -> AsyncWebClient:
    return make_client(Settings(_env_file=None, slack_bot_token=fake.bot_token, slack_api_url=fake.api_url))  # type: ignore[call-arg]


def _replica(fake: FakeSlack, store: Store | None) -> SlackPlatform:
    # The bot's budgets for the tenfold limits: 9 posts a second per channel, 450 edits a minute.
    return SlackPlatform(_client(fake), pacing=SlackPacing(posts_per_second=9, updates_per_minute=450, store=store))


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-process"])
async def test_two_replicas_bursting_into_one_channel_keep_slacks_limits(
    postgres_backend: Backend, fake_slack: FakeSlack, shared: bool
) -> None:
    fake_slack.limits.update(SCALED_LIMITS)
    parent = fake_slack.user_message(CHANNEL, [])
    stores = [await postgres_backend.open(), await postgres_backend.open()]
    try:
        replicas = [_replica(fake_slack, store if shared else None) for store in stores]
        thread = MessageRef(platform=Platform.slack, channel_id=CHANNEL, message_id=parent["ts"])
        # Both replicas post their burst into the note's thread at once, then both edit every post at once.
        posted = await asyncio.gather(*(asyncio.gather(*(r.post_in_thread(thread, f"part {i}") for i in range(POSTS_EACH)))
                                        for r in replicas))
        await asyncio.gather(*(r.edit(ref, "edited") for r, refs in zip(replicas, posted) for ref in refs))
    finally:
        for store in stores:
            await store.close()
    assert len(fake_slack.calls_to("chat.postMessage")) >= 2 * POSTS_EACH
    refused = [c.method for c in fake_slack.rate_limited]
    if shared:
        assert refused == []
    else:
        # The control: the fake is strict, and two processes pacing alone jointly exceed its limits.
        assert "chat.postMessage" in refused and "chat.update" in refused, refused
    fake_slack.rate_limited.clear()  # checked here, in both directions


async def test_a_replica_defers_a_reply_search_when_another_spent_the_shared_budget(
    postgres_backend: Backend, fake_slack: FakeSlack
) -> None:
    """conversations.replies allows non-Marketplace apps about one call a minute: once one replica made it,
    the other's search is deferred at once (the job waits in the queue) rather than holding a worker."""
    parent = fake_slack.user_message(CHANNEL, [])
    note = AudioNote(platform=Platform.slack, workspace_id=fake_slack.team_id, channel_id=CHANNEL,
                     message_id=parent["ts"], attachment_id="F0NOTE", filename="note.ogg", size=1)
    stores = [await postgres_backend.open(), await postgres_backend.open()]
    try:
        first, second = (_replica(fake_slack, store) for store in stores)
        assert await asyncio.wait_for(first.find_reply(note), 5) is None  # searched: no earlier reply
        with pytest.raises(Deferred):
            await asyncio.wait_for(second.find_reply(note), 5)
    finally:
        for store in stores:
            await store.close()
    assert len(fake_slack.calls_to("conversations.replies")) == 1
    assert fake_slack.rate_limited == []
