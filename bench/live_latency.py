"""What a user sees: from the platform event to the placeholder, the first recognised text and the final
transcript visible in the channel, through the real adapters (slack-bolt over Socket Mode, discord.py
over its gateway) against the loopback fakes with their rate limits on, on the local engine.

Baseline in the same process, like for like: the same adapters held to a fixed 1.2 s pace per message
(every write waits 1.2 s after the previous write of that message, the placeholder included), which is
how voxnote paced before issue 15. Bursts (20 notes into one channel, 50 across 10 channels) run on a
scripted engine, since what they measure is the pacing: every note must be answered once, with no 429.

The fakes live in tests/fixtures, so this bench needs the test install (`pip install -e '.[test]'`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.audio import opus_bytes, speech_of_length, wav_bytes
from bench.common import Report, median, p95
from bot.config import Settings
from bot.core import Voxnote
from bot.engine.local import LocalTranscriber
from bot.engine.transcriber import Transcriber
from bot.models import ChannelSettings, MessageRef, Platform, Segment
from bot.pipeline import PLACEHOLDER
from storage import SQLiteStore
from tests.fixtures.engine import TEST_MODEL_CACHE
from tests.fixtures.transcriber import ScriptedTranscriber

FIXED_PACE_S = 1.2
CHANNEL = "C0GENERAL"
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass
class Seen:
    """One note as the channel showed it: seconds from the event to each write."""

    placeholder: float
    first_text: float | None
    final: float


def hold_to_fixed_pace(platform: Any, interval: float = FIXED_PACE_S) -> None:
    """The baseline: every write of a message waits `interval` after the previous one (as before)."""
    last: dict[str, float] = {}
    post_reply, edit = platform.post_reply, platform.edit

    async def paced_post(note: Any, text: str) -> MessageRef:
        ref = await post_reply(note, text)
        last[ref.message_id] = time.monotonic()
        return ref

    async def paced_edit(ref: MessageRef, text: str) -> None:
        wait = last.get(ref.message_id, float("-inf")) + interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await edit(ref, text)
        finally:
            last[ref.message_id] = time.monotonic()

    platform.post_reply, platform.edit = paced_post, paced_edit
    platform.min_edit_interval = interval


def _is_text(text: str) -> bool:
    """A write that shows recognised words (the placeholder line alone does not)."""
    return "\n" in text or not text.startswith(PLACEHOLDER)


class Rig:
    """A platform's fake, the real adapter and the core on one database; `note()` returns what was seen."""

    name = ""

    async def note(self, data: bytes, seconds: float, channel: str = CHANNEL) -> Seen:
        raise NotImplementedError

    @property
    def rate_limited(self) -> int:
        raise NotImplementedError

    def budgets_full(self, channel: str = CHANNEL) -> bool:
        raise NotImplementedError

    async def quiet(self, channel: str = CHANNEL) -> None:
        """Wait until the platform's budgets have refilled: the next note arrives in a quiet workspace,
        as one voice note among human conversation does (bursts measure the busy case)."""
        while not self.budgets_full(channel):
            await asyncio.sleep(0.1)


async def _core(settings: Settings, engine: Transcriber, platform: Platform, workspace: str,
                channels: list[str]) -> tuple[SQLiteStore, Voxnote]:
    store = await SQLiteStore.open(settings.db_path)
    for channel in channels:
        await store.set_settings(platform, workspace, channel, ChannelSettings(summary_threshold_s=None))
    core = Voxnote(settings, store, engine)
    await core.start()
    return store, core


@contextlib.asynccontextmanager
async def slack_rig(engine: Transcriber, tmp: Path, *, fixed: bool, channels: list[str],
                    download_rate: float | None = None) -> AsyncIterator[Rig]:
    from adapters.slack.runner import SlackBot
    from tests.fixtures.slack import SIGNING_SECRET, FakeSlack

    fake = FakeSlack(download_rate=download_rate)
    await fake.start()
    settings = Settings(_env_file=None, slack_bot_token=fake.bot_token, slack_app_token=fake.app_token,
                        slack_signing_secret=SIGNING_SECRET, slack_api_url=fake.api_url, slack_http_port=0,
                        db_path=tmp / f"slack-{fixed}.db")  # type: ignore[call-arg]
    store, core = await _core(settings, engine, Platform.slack, fake.team_id, channels)
    bot = SlackBot(settings, core, http_host="127.0.0.1")
    await bot.start()
    await fake.wait_connected()
    if fixed:
        hold_to_fixed_pace(bot.platform)

    class SlackRig(Rig):
        name = "Slack"

        async def note(self, data: bytes, seconds: float, channel: str = CHANNEL) -> Seen:
            kind = ("clip.webm", "audio/webm", "webm") if data.startswith(WEBM_MAGIC) else ("note.wav", "audio/wav", "wav")
            f = fake.add_file(data, name=kind[0], mimetype=kind[1], filetype=kind[2], duration_ms=int(seconds * 1000))
            msg = fake.user_message(channel, [f])
            t0 = time.monotonic()
            await fake.send_envelope("events_api", fake.event_callback(msg))

            def done() -> bool:
                replies = fake.bot_messages(channel, thread_ts=msg["ts"])
                return bool(replies) and not replies[0]["text"].endswith("…") and _is_text(replies[0]["text"])

            await fake.wait_for(done, timeout=600)
            [reply] = fake.bot_messages(channel, thread_ts=msg["ts"])[:1]
            post = next(c for c in fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == msg["ts"])
            texts = [u for u in fake.updates_of(reply["ts"]) if _is_text(u.args["text"])]
            return Seen(post.at - t0, texts[0].at - t0 if texts else None, texts[-1].at - t0)

        @property
        def rate_limited(self) -> int:
            return len(fake.rate_limited)

        def budgets_full(self, channel: str = CHANNEL) -> bool:
            pacing = bot.platform.pacing
            return pacing.updates.has_capacity(pacing.updates.max_rate) and pacing.posts(channel).has_capacity(
                pacing.POST_BURST)

    try:
        yield SlackRig()
    finally:
        await core.stop(grace=5)
        await bot.stop()
        await store.close()
        await fake.stop()


@contextlib.asynccontextmanager
async def discord_rig(engine: Transcriber, tmp: Path, *, fixed: bool, channels: list[str],
                      download_rate: float | None = None) -> AsyncIterator[Rig]:
    import discord as discord_lib

    from adapters.discord_ import DiscordBot
    from adapters.discord_.platform import CHANNEL_BUCKET
    from tests.fixtures.discord import FakeDiscord

    saved = discord_lib.http.Route.BASE, discord_lib.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord(cdn_rate=download_rate)
    await fake.start()
    settings = Settings(_env_file=None, discord_token=fake.token, discord_api_url=fake.api_url,
                        discord_gateway_url=fake.gateway_url, db_path=tmp / f"discord-{fixed}.db")  # type: ignore[call-arg]
    ids = [fake.channel_id] + [fake.add_text_channel(name.lower())["id"] for name in channels[1:]]
    store, core = await _core(settings, engine, Platform.discord, fake.guild_id, ids)
    bot = DiscordBot(settings, core, guild_ready_timeout=0.05)
    await bot.start(timeout=15.0)
    if fixed:
        hold_to_fixed_pace(bot.platform)
    by_name = dict(zip(channels, ids, strict=True))

    class DiscordRig(Rig):
        name = "Discord"

        async def note(self, data: bytes, seconds: float, channel: str = CHANNEL) -> Seen:
            t0 = time.monotonic()
            note = await fake.post_voice_message(data, duration=seconds, channel_id=by_name[channel])

            def done() -> bool:
                replies = fake.replies_to(note["id"])
                return bool(replies) and not fake.messages[replies[0]["id"]]["content"].endswith("…") and _is_text(
                    fake.messages[replies[0]["id"]]["content"])

            await fake.wait_for(done, 600)
            reply_id = fake.replies_to(note["id"])[0]["id"]
            [post] = [c for c in fake.calls_to("POST", rf"/channels/{by_name[channel]}/messages")
                      if str((c.json or {}).get("message_reference", {}).get("message_id")) == note["id"]]
            texts = [e for e in fake.edits_of(reply_id) if _is_text(e.json["content"])]
            return Seen(post.at - t0, texts[0].at - t0 if texts else None, texts[-1].at - t0)

        @property
        def rate_limited(self) -> int:
            return len(fake.rate_limited)

        def budgets_full(self, channel: str = CHANNEL) -> bool:
            platform = bot.platform
            return all(buckets(by_name[channel]).has_capacity(CHANNEL_BUCKET)
                       for buckets in (platform._creates, platform._edits))

    try:
        yield DiscordRig()
    finally:
        await core.stop(grace=5)
        await bot.stop()
        await store.close()
        await fake.close()
        discord_lib.http.Route.BASE, discord_lib.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


RIGS: dict[str, Callable[..., Any]] = {"slack": slack_rig, "discord": discord_rig}


def _label(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 or seconds % 60 else f"{seconds / 60:g} min"


async def latency(report: Report, engine: Transcriber, lengths: list[float], repeats: int, tmp: Path) -> None:
    notes = {seconds: wav_bytes(speech_of_length(seconds)) for seconds in lengths}
    for platform, rig in RIGS.items():
        seen: dict[tuple[bool, float], list[Seen]] = {}
        for fixed in (False, True):
            async with rig(engine, tmp, fixed=fixed, channels=[CHANNEL]) as r:
                for seconds in lengths:
                    for _ in range(repeats):
                        await r.quiet()
                        seen.setdefault((fixed, seconds), []).append(await r.note(notes[seconds], seconds))
                assert r.rate_limited == 0, f"{platform}: {r.rate_limited} calls drew a 429"
        name = platform.capitalize()
        for seconds in lengths:
            ours, base = seen[(False, seconds)], seen[(True, seconds)]
            first = [s.first_text for s in ours if s.first_text is not None]
            first_base = [s.first_text for s in base if s.first_text is not None]
            target = {17: "p50 <= 0.8 s, p95 <= 1.0 s", 180: "<= 1.0 s"}.get(int(seconds), "")
            report.add(f"{name} {_label(seconds)}: first text p50", median(first), "s", median(first_base), target)
            report.add(f"{name} {_label(seconds)}: first text p95", p95(first), "s", p95(first_base))
            report.add(f"{name} {_label(seconds)}: final p50", median([s.final for s in ours]), "s",
                       median([s.final for s in base]), "<= 2.0 s" if int(seconds) == 17 else "")
            report.add(f"{name} {_label(seconds)}: placeholder p50", median([s.placeholder for s in ours]) * 1000,
                       "ms", median([s.placeholder for s in base]) * 1000)


class DownloadThenDecode:
    """The baseline of the throttled rows: the same engine, handed the whole file once it is downloaded
    (how voxnote worked before it decoded during the download)."""

    accepts_chunks = False

    def __init__(self, engine: Transcriber) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


async def throttled(report: Report, engine: Transcriber, seconds: float, rates: list[float], repeats: int,
                    tmp: Path) -> None:
    """A long note served at a real network's pace (the loopback fakes send at `rate` bytes a second), as
    users post it: Opus in WebM on Slack (its clips), in Ogg on Discord (voice messages). Baseline: the same
    rig, download then decode, in the same process."""
    samples = speech_of_length(seconds)
    notes = {"slack": opus_bytes(samples, "webm"), "discord": opus_bytes(samples, "ogg")}
    for platform, rig in RIGS.items():
        data = notes[platform]
        for rate in rates:
            seen: dict[bool, list[Seen]] = {}
            for streaming in (True, False):
                used = engine if streaming else DownloadThenDecode(engine)
                # A database of its own: the fakes count ids from the same start, so a reused one would
                # take the note for one it already answered.
                own = tmp / f"{platform}-{rate:g}-{streaming}"
                own.mkdir()
                async with rig(used, own, fixed=False, channels=[CHANNEL], download_rate=rate) as r:
                    for _ in range(repeats):
                        await r.quiet()
                        seen.setdefault(streaming, []).append(await r.note(data, seconds))
            ours, base = seen[True], seen[False]
            label = f"{platform.capitalize()} {_label(seconds)} ({len(data) / 1e6:.1f} MB) at {rate / 1e6:g} MB/s"
            report.add(f"{label}: first text p50", median([s.first_text for s in ours if s.first_text is not None]),
                       "s", median([s.first_text for s in base if s.first_text is not None]), "<= 1.0 s")
            report.add(f"{label}: final p50", median([s.final for s in ours]), "s", median([s.final for s in base]))


async def realtime_vs_sse(report: Report, engine: Transcriber, seconds: float, rate: float, repeats: int,
                          tmp: Path) -> None:
    """The bot on a `voxnote serve` (same engine, same process) over the realtime websocket, fed PCM while
    the note downloads, against the SSE path (download, upload, stream the answer). Slack only: a Discord
    note's public URL would have the SSE service fetch it itself, past the throttled fake."""
    from bot.engine.mistral import MistralTranscriber
    from bot.engine.realtime_client import RealtimeTranscriber
    from tests.fixtures.service import run_service, service_settings

    key = "bench-key"
    serve = run_service(service_settings(tmp / "serve", api_keys=key), engine)
    data = opus_bytes(speech_of_length(seconds), "webm")
    try:
        settings = Settings(_env_file=None, mistral_base_url=serve.url, mistral_api_key=key)  # type: ignore[call-arg]
        seen: dict[str, list[Seen]] = {}
        for name, client in (("realtime", RealtimeTranscriber.from_settings(settings)),
                             ("sse", MistralTranscriber.from_settings(settings))):
            own = tmp / f"serve-{name}"
            own.mkdir()
            async with slack_rig(client, own, fixed=False, channels=[CHANNEL], download_rate=rate) as r:
                for _ in range(repeats):
                    await r.quiet()
                    seen.setdefault(name, []).append(await r.note(data, seconds))
            await client.aclose()
    finally:
        serve.stop()
    ours, base = seen["realtime"], seen["sse"]
    label = f"Slack {_label(seconds)} at {rate / 1e6:g} MB/s via serve, realtime (baseline SSE)"
    report.add(f"{label}: first text p50", median([s.first_text for s in ours if s.first_text is not None]), "s",
               median([s.first_text for s in base if s.first_text is not None]))
    report.add(f"{label}: final p50", median([s.final for s in ours]), "s", median([s.final for s in base]))


async def burst(report: Report, tmp: Path, *, per_channel: int, channels: int) -> None:
    """Many notes at once on a scripted engine: all answered once, no 429, p95 to placeholder and final."""
    engine = ScriptedTranscriber([Segment(text=f"Part {i} of the note.", start=i, end=i + 1) for i in range(4)],
                                 delay=0.2)
    names = [CHANNEL] + [f"C0CHAN{i:04d}" for i in range(1, channels)]
    (tmp / f"burst-{channels}").mkdir(exist_ok=True)
    data = b"OggS-burst"
    for platform, rig in RIGS.items():
        async with rig(engine, tmp / f"burst-{channels}", fixed=False, channels=names) as r:
            tasks: list[Awaitable[Seen]] = [r.note(data, 3.0, channel) for channel in names for _ in range(per_channel)]
            seen = await asyncio.gather(*tasks)
            limited = r.rate_limited
        label = f"{r.name} burst {per_channel * channels} notes / {channels} channel{'s' if channels > 1 else ''}"
        report.add(f"{label}: placeholder p95", p95([s.placeholder for s in seen]), "s")
        report.add(f"{label}: final p95", p95([s.final for s in seen]), "s")
        report.add(f"{label}: rate-limited answers", limited, "", target="0")
        assert len(seen) == per_channel * channels and limited == 0, f"{label}: {limited} calls drew a 429"


async def run(lengths: list[float], repeats: int, bursts: list[tuple[int, int]], model: str = "base",
              slow: tuple[float, list[float], int] | None = None) -> Report:
    report = Report("live_latency")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        settings = Settings(_env_file=None, model=model, model_cache_dir=TEST_MODEL_CACHE)  # type: ignore[call-arg]
        engine = LocalTranscriber.from_settings(settings)
        await engine.warm()
        try:
            if lengths:
                await latency(report, engine, lengths, repeats, tmp)
            if slow is not None:
                await throttled(report, engine, slow[0], slow[1], slow[2], tmp)
                await realtime_vs_sse(report, engine, slow[0], min(slow[1]), slow[2], tmp)
        finally:
            await engine.aclose()
        for per_channel, channels in bursts:
            await burst(report, tmp, per_channel=per_channel, channels=channels)
    report.notes.append(
        f"{model} int8, defaults otherwise; {repeats} repeats per length; event -> write as the fake received it; "
        f"each note once the platform's budgets have refilled (a quiet workspace); "
        f"baseline = the same adapters held to a fixed {FIXED_PACE_S} s pace per message (before issue 15); "
        "bursts on a scripted engine (0.2 s per segment)"
    )
    if slow is not None:
        report.notes.append(
            f"'at N MB/s' rows: a {_label(slow[0])} Opus note served at that rate by the fake's file server, "
            f"{slow[2]} repeat(s); baseline = the same rig downloading the whole file before decoding it"
        )
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--slow-only", action="store_true", help="only the throttled-download rows")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each throttled row (--slow-only)")
    args = parser.parse_args(argv)
    if args.quick:
        report = asyncio.run(run([5], 1, [(3, 1)], model="tiny.en", slow=(20, [0.1e6], 1)))
    elif args.slow_only:
        report = asyncio.run(run([], 1, [], slow=(173, [2e6, 0.5e6], args.repeats)))
    else:
        report = asyncio.run(run([10, 17, 60, 180], 5, [(20, 1), (5, 10)], slow=(173, [2e6, 0.5e6], 3)))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
