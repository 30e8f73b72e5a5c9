"""Socket Mode with several connections for one app, as bot replicas open them: Slack spreads envelopes
over the open connections, redelivers one not acked in time (possibly over another connection) and
refuses an 11th connection. These tests hold the fake to that, with the real slack-bolt as the client."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from bot.models import Segment
from tests.fixtures.slack import MAX_SOCKET_CONNECTIONS, FakeSlack
from tests.fixtures.transcriber import ScriptedTranscriber

CHANNEL = "C0GENERAL"
SEGMENTS = [Segment(text="Spread over two.", start=0, end=1)]


async def open_raw_connection(fake: FakeSlack, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    """A client that connects and never acks: a replica hung after connecting."""
    async with session.post(f"{fake.api_url}apps.connections.open",
                            headers={"Authorization": f"Bearer {fake.app_token}"}) as resp:
        url = (await resp.json())["url"]
    ws = await session.ws_connect(url)
    hello = json.loads((await ws.receive()).data)
    assert hello["type"] == "hello"
    return ws


async def test_envelopes_are_spread_over_two_replicas_connections(slack_harness, fake_slack: FakeSlack):
    one = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.01))
    two = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.01))
    await fake_slack.wait_for(lambda: fake_slack.open_connections == 2)
    # Four notes: within one channel's posting burst, since each replica paces only its own posts.
    messages = [fake_slack.user_message(CHANNEL, [fake_slack.add_file(f"note {i}".encode())]) for i in range(4)]
    ids = [await fake_slack.send_envelope("events_api", fake_slack.event_callback(m)) for m in messages]
    for envelope_id in ids:
        await fake_slack.wait_ack(envelope_id)
    # Each connection carried half of them, and each replica answered the notes it was given.
    assert sorted(fake_slack.delivered_on[e][0] for e in ids) == [1, 1, 2, 2]
    for m in messages:
        await fake_slack.wait_for(lambda m=m: len(fake_slack.bot_messages(CHANNEL, thread_ts=m["ts"])) == 1)
    await one.core.wait_idle()
    await two.core.wait_idle()
    assert len(fake_slack.bot_messages(CHANNEL)) == 4


async def test_an_envelope_not_acked_is_redelivered_over_another_connection(slack_harness, fake_slack: FakeSlack):
    fake_slack.redeliver = True
    fake_slack.ack_timeout = 0.5
    async with aiohttp.ClientSession() as session:
        hung = await open_raw_connection(fake_slack, session)  # connection 1: never acks
        h = await slack_harness(ScriptedTranscriber(SEGMENTS, delay=0.01))  # connection 2: the bot
        await fake_slack.wait_for(lambda: fake_slack.open_connections == 2)
        msg = fake_slack.user_message(CHANNEL, [fake_slack.add_file(b"OggS")])
        envelope_id = await fake_slack.send_envelope("events_api", fake_slack.event_callback(msg))
        first = json.loads((await hung.receive(timeout=5)).data)
        assert first["envelope_id"] == envelope_id and first["retry_attempt"] == 0
        await fake_slack.wait_ack(envelope_id, timeout=10)
        assert fake_slack.delivered_on[envelope_id] == [1, 2]
        await h.answered_once(msg, SEGMENTS[0].text)
        await hung.close()
    assert not fake_slack.dropped


async def test_an_envelope_nobody_acks_is_retried_three_times_then_dropped(fake_slack: FakeSlack):
    fake_slack.redeliver = True
    fake_slack.ack_timeout = 0.2
    async with aiohttp.ClientSession() as session:
        hung = await open_raw_connection(fake_slack, session)
        envelope_id = await fake_slack.send_envelope("events_api", fake_slack.event_callback({"type": "message"}))
        attempts = [json.loads((await hung.receive(timeout=5)).data)["retry_attempt"] for _ in range(4)]
        await fake_slack.wait_for(lambda: envelope_id in fake_slack.dropped, timeout=5)
        await hung.close()
    assert attempts == [0, 1, 2, 3]
    assert fake_slack.dropped == [envelope_id]


async def test_an_eleventh_connection_is_told_too_many_websockets(fake_slack: FakeSlack):
    async with aiohttp.ClientSession() as session:
        sockets = [await open_raw_connection(fake_slack, session) for _ in range(MAX_SOCKET_CONNECTIONS)]
        async with session.post(f"{fake_slack.api_url}apps.connections.open",
                                headers={"Authorization": f"Bearer {fake_slack.app_token}"}) as resp:
            url = (await resp.json())["url"]
        extra = await session.ws_connect(url)
        refusal = json.loads((await extra.receive(timeout=5)).data)
        assert refusal == {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "fake-slack"}}
        assert (await extra.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert fake_slack.open_connections == MAX_SOCKET_CONNECTIONS and fake_slack.refused_connections == 1
        # A replica that goes away frees its place.
        await sockets.pop().close()
        await fake_slack.wait_for(lambda: fake_slack.open_connections == MAX_SOCKET_CONNECTIONS - 1)
        sockets.append(await open_raw_connection(fake_slack, session))
        await asyncio.gather(*(ws.close() for ws in sockets))
