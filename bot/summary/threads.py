"""When and how the bot posts summaries: after a long note, and on `/voxnote summarize` for a thread."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.models import Platform, Transcript
from bot.summary import ChatClient, render_discord, render_plain, render_slack, summarize, wants_summary
from storage import Store

log = logging.getLogger(__name__)

RENDERERS = {Platform.slack: render_slack, Platform.discord: render_discord}


class Summaries:
    """Holds the one chat-completions client (None: the offline extract) for every summary."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.llm = ChatClient.from_settings(settings)

    def wanted(self, transcript: Transcript, threshold_s: float | None) -> bool:
        return wants_summary(transcript.duration, threshold_s)

    async def render(self, transcripts: list[Transcript], platform: Platform, limit: int) -> str:
        summary = await summarize(transcripts, self.settings, self.llm)
        return RENDERERS.get(platform, render_plain)(summary, limit)

    async def for_thread(self, platform: Platform, workspace_id: str, channel_id: str, thread_id: str | None,
                         limit: int) -> str:
        """Every transcript of the thread (or of the channel when `thread_id` is None) as one meeting."""
        stored = await self.store.thread_transcripts(platform, workspace_id, channel_id, thread_id)
        if not stored:
            where = "thread" if thread_id else "channel"
            return f"There is no transcript in this {where} to summarise yet."
        return await self.render([s.transcript for s in stored], platform, limit)

    async def aclose(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()
