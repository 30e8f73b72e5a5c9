"""`voxnote run`: open the store, build the transcriber and the core, start the configured adapters,
and shut down gracefully on SIGTERM/SIGINT (running notes finish, the rest stay queued)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3

from bot.config import Settings
from bot.core import Voxnote
from bot.errors import VoxnoteError
from bot.registry import adapter
from bot.engine.factory import make_transcriber
from storage import StoreUnavailable, open_store

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 30.0


def configured_platforms(settings: Settings) -> list[str]:
    """Which adapters the environment asks for; a half-configured platform is an error, named plainly."""
    platforms = []
    if settings.slack_bot_token or settings.slack_app_token or settings.slack_signing_secret:
        if not settings.slack_bot_token:
            raise VoxnoteError("Slack: SLACK_BOT_TOKEN is missing (SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set)")
        if not (settings.slack_app_token or settings.slack_signing_secret):
            raise VoxnoteError(
                "Slack: set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for the HTTP Events API"
            )
        platforms.append("slack")
    if settings.discord_token:
        platforms.append("discord")
    return platforms


async def run_bot(settings: Settings) -> int:
    platforms = configured_platforms(settings)
    # Everything opened is closed on every path: an unclosed aiosqlite connection keeps its thread, and
    # so the process, alive after an error.
    async with contextlib.AsyncExitStack() as stack:
        database_url = settings.database_url.get_secret_value() if settings.database_url else None
        try:
            store = await open_store(settings.db_path, database_url)
        except StoreUnavailable as exc:  # PostgreSQL: its message names the server, never the password
            where = "(VOXNOTE_DATABASE_URL)" if database_url else f"{settings.db_path} (VOXNOTE_DB_PATH)"
            raise VoxnoteError(f"cannot open the database {where}: {exc}") from None
        except (OSError, sqlite3.Error) as exc:
            # A folder the user cannot write (a Docker bind mount owned by root, a typo) is a setting's
            # mistake: name the variable instead of showing sqlite's traceback.
            raise VoxnoteError(f"cannot open the database {settings.db_path} (VOXNOTE_DB_PATH): {exc}") from None
        stack.push_async_callback(store.close)
        transcriber = make_transcriber(settings)
        stack.push_async_callback(transcriber.aclose)
        warm = getattr(transcriber, "warm", None)
        if warm is not None:
            await warm()
        core = Voxnote(settings, store, transcriber)
        await core.start()
        # The adapters stay connected while running notes finish: their final edits need the clients.
        stack.push_async_callback(core.stop, SHUTDOWN_GRACE_SECONDS)
        if settings.health_port is not None:
            from bot.metrics import start_health_server

            health = await start_health_server(
                store, settings.health_host, settings.health_port, workers=lambda: core.live_workers
            )
            stack.push_async_callback(health.cleanup)
        return await _run_adapters(settings, core, platforms)


async def _run_adapters(settings: Settings, core: Voxnote, platforms: list[str]) -> int:
    """Until SIGTERM/SIGINT, or until an adapter stops (console: end of input; others: an error)."""
    names = platforms or ["console"]
    if not platforms:
        log.info("no SLACK_* or DISCORD_TOKEN set: running the console adapter")
    tasks = [asyncio.create_task(adapter(name)(settings, core), name=name) for name in names]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for task in done:
        if task is not stopper and task.exception() is not None:
            log.error("%s stopped: %s", task.get_name(), task.exception())
            code = 1
    log.info("shutting down: finishing running notes (up to %.0f s)", SHUTDOWN_GRACE_SECONDS)
    await core.stop(grace=SHUTDOWN_GRACE_SECONDS)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    return code
