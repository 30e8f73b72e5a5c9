"""`summarize`: the one entry point. LLM when a client is given, the offline extract otherwise or when
the LLM fails (with a note saying so)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from bot.models import Transcript
from bot.summary.chat import ChatClient, LLMError
from bot.summary.llm import llm_summary
from bot.summary.meeting import Meeting
from bot.summary.models import Summary
from bot.summary.offline import extract

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


def wants_summary(duration_s: float, threshold_s: float | None) -> bool:
    """A channel's rule: summarise notes longer than the threshold; None means summaries are off."""
    return threshold_s is not None and duration_s > threshold_s


async def summarize(
    transcripts: list[Transcript],
    settings: Settings,
    llm: ChatClient | None = None,
    *,
    authors: Sequence[str | None] | None = None,
) -> Summary:
    """Summarise transcripts, in order, as one meeting (each starts where the previous ended).

    `authors[i]` names the speaker of transcript i's undiarized segments (e.g. the note's poster).
    Build `llm` once with `ChatClient.from_settings(settings)`; None gives the offline extract."""
    meeting = Meeting.from_transcripts(transcripts, authors)
    if not meeting.utterances:
        return Summary(kind="extract", duration_s=round(meeting.duration, 2), note="nothing was said to summarise")
    note = None
    if llm is not None:
        try:
            return await llm_summary(meeting, llm, settings.llm_context_chars)
        except (LLMError, httpx.HTTPError) as exc:
            reason = exc.user_message if isinstance(exc, LLMError) else "the summary model could not be reached"
            log.warning("LLM summary failed, using the offline extract instead: %s", exc)
            note = f"The AI summary failed ({reason}), so this is an automatic extract instead."
    summary = await asyncio.to_thread(extract, meeting)
    return summary.model_copy(update={"note": note}) if note else summary
