"""Meeting summaries: an LLM over chat completions when configured, an offline extract otherwise.

    from bot.summary import ChatClient, summarize, render_slack, render_discord
    llm = ChatClient.from_settings(settings)          # None: offline extract
    summary = await summarize([transcript, ...], settings, llm)
    text = render_slack(summary, limit=3000)
"""

from bot.summary.chat import ChatClient, LLMBadAnswer, LLMEndpoint, LLMError, LLMRejected, LLMUnavailable, llm_endpoint
from bot.summary.models import ActionItem, SpeakerTime, Summary
from bot.summary.render import render, render_discord, render_plain, render_slack
from bot.summary.service import summarize, wants_summary

__all__ = [
    "ActionItem", "ChatClient", "LLMBadAnswer", "LLMEndpoint", "LLMError", "LLMRejected", "LLMUnavailable",
    "SpeakerTime", "Summary", "llm_endpoint", "render", "render_discord", "render_plain", "render_slack",
    "summarize", "wants_summary",
]
