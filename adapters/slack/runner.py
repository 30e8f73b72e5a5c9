"""Running the Slack side of `voxnote run`: Socket Mode when an app token is set, else HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Literal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import Core, build_app
from adapters.slack.platform import SlackPacing, SlackPlatform
from bot.config import Settings
from bot.errors import VoxnoteError
from bot.models import Platform

log = logging.getLogger(__name__)
# What bolt logs when it is given a client while SLACK_BOT_TOKEN is set in the environment.
TOKEN_UNUSED = warning_client_prioritized_and_token_skipped()


class _TokenUnusedFilter(logging.Filter):
    """Drops bolt's "`token` will be unused" warning: bolt reads SLACK_BOT_TOKEN from the environment
    even when given a client, and ours is built from that very token, so nothing goes unused."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != TOKEN_UNUSED


@contextlib.contextmanager
def _without_token_unused_warning() -> Iterator[None]:
    # Only while our app is built, on bolt's own logger: any other app in the process still gets it.
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    only_this = _TokenUnusedFilter()
    bolt.addFilter(only_this)
    try:
        yield
    finally:
        bolt.removeFilter(only_this)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: bot token, configurable base URL, waits out 429s instead of failing."""
    if settings.slack_bot_token is None:
        raise VoxnoteError("SLACK_BOT_TOKEN is not set")
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=2), AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


class SlackBot:
    """One Slack workspace: the bolt app, its platform for the core, and the connection to Slack."""

    def __init__(self, settings: Settings, core: Core, *, http_host: str = "0.0.0.0") -> None:
        self.client = make_client(settings)
        self.platform = SlackPlatform(self.client, pacing=SlackPacing(
            settings.slack_posts_per_second, settings.slack_updates_per_minute, settings.slack_history_per_minute,
            store=core.store))
        self.mode: Literal["socket", "http"] = "socket" if settings.slack_app_token else "http"
        signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        if self.mode == "http" and not signing_secret:
            raise VoxnoteError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
        self._app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        self.core = core
        with _without_token_unused_warning():
            self.app = build_app(core, self.platform, self.client, admins=settings.slack_admins,
                                 signing_secret=signing_secret)
        self._http_host = http_host
        self.http_port = settings.slack_http_port
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Check the tokens (a wrong one is a plain error, not an endless reconnect loop), then connect."""
        try:
            me = await self.client.auth_test()
        except SlackApiError as e:
            raise VoxnoteError(f"Slack refused SLACK_BOT_TOKEN ({e.response.get('error')})") from e
        log.info("Slack: signed in as %s in %s", me.get("user"), me.get("team"))
        self.platform.workspace_url = me.get("url") or None
        # Registered before connecting: jobs queued before a restart resume on this platform.
        self.core.register(self.platform, Platform.slack)
        if self.mode == "socket":
            try:
                url = (await self.client.apps_connections_open(app_token=self._app_token))["url"]
            except SlackApiError as e:
                raise VoxnoteError(f"Slack refused SLACK_APP_TOKEN ({e.response.get('error')})") from e
            # Built here: the Socket Mode client needs a running event loop.
            self._socket = AsyncSocketModeHandler(self.app, app_token=self._app_token, web_client=self.client)
            self._socket.client.wss_uri = url  # each URL works once: use the one just checked
            await self._socket.connect_async()
            log.info("Slack: connected in Socket Mode")
            return
        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, self._handle)
        web_app.router.add_get(HEALTH_PATH, self._health)
        self._runner = web.AppRunner(web_app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._http_host, self.http_port).start()
        self.http_port = self._runner.addresses[0][1]
        log.info("Slack: listening for events on %s:%s%s", self._http_host, self.http_port, EVENTS_PATH)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.platform.aclose()

    async def _handle(self, request: web.Request) -> web.Response:
        # bolt checks the signature and its age, answers url_verification, and acks before working.
        bolt_resp = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_resp)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")


async def run_slack(settings: Settings, core: Core) -> None:
    """Serve Slack until cancelled (`voxnote run` runs this beside the other platforms)."""
    bot = SlackBot(settings, core)
    await bot.start()
    try:
        await asyncio.Event().wait()
    finally:
        await bot.stop()
