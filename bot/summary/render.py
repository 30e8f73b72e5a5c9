"""A Summary as chat text: Slack mrkdwn, Discord markdown or plain text, always within a character limit.

Long summaries shrink gracefully (fewer items per section with "…and N more", shorter items) before
anything is cut, so the sections that matter most (action items) survive."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.render import format_timestamp
from bot.summary.models import Summary

SLACK_LIMIT = 3000  # one section block holds 3,000 characters
DISCORD_LIMIT = 2000  # message content
ELLIPSIS = "…"


@dataclass(frozen=True)
class Budget:
    """Items shown per section (None: all) and characters per item; key points give way first."""

    key_points: int | None = None
    decisions: int | None = None
    actions: int | None = None
    questions: int | None = None
    speakers: int | None = None
    chars: int | None = None


# Tried in order until the text fits.
BUDGETS: list[Budget] = [
    Budget(),
    Budget(chars=300),
    Budget(5, chars=240),
    Budget(3, chars=200),
    Budget(3, questions=5, chars=160),
    Budget(2, questions=4, chars=130),
    Budget(2, 6, None, 3, chars=110),
    Budget(1, 5, None, 3, chars=100),
    Budget(1, 5, 12, 2, 8, chars=100),
    Budget(1, 4, 10, 2, 6, chars=90),
    Budget(1, 3, 8, 2, 5, chars=80),
    Budget(1, 3, 6, 1, 4, chars=80),
    Budget(0, 2, 4, 1, 3, chars=70),
    Budget(0, 1, 3, 1, 3, chars=60),
    Budget(0, 1, 2, 0, 2, chars=60),
    Budget(0, 0, 1, 0, 1, chars=50),
    Budget(0, 0, 0, 0, 0, chars=40),
]
EXTRACT_LABEL = "Automatic extract, not an AI summary: sentences and phrases picked by rules, so check the transcript."


@dataclass(frozen=True)
class Style:
    bold: str
    italic: str
    bullet: str
    escape: Callable[[str], str]


def slack_escape(text: str) -> str:
    """Slack treats <, > and & as control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_DISCORD_MARKUP = re.compile(r"([\\*_~`|>#])")


def discord_escape(text: str) -> str:
    """Markdown characters shown as typed, and no mass mentions from a transcript."""
    text = _DISCORD_MARKUP.sub(r"\\\1", text)
    return re.sub(r"@(everyone|here)\b", "@\u200b\\1", text)


SLACK = Style(bold="*{}*", italic="_{}_", bullet="•", escape=slack_escape)
DISCORD = Style(bold="**{}**", italic="*{}*", bullet="-", escape=discord_escape)
PLAIN = Style(bold="{}", italic="{}", bullet="-", escape=lambda s: s)


def _cut(text: str, chars: int | None) -> str:
    text = " ".join(text.split())
    if chars is None or len(text) <= chars:
        return text
    head = text[: max(1, chars - 1)]
    space = head.rfind(" ")
    return (head[:space] if space > chars // 2 else head).rstrip(" ,;:") + ELLIPSIS


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _header(summary: Summary, style: Style) -> list[str]:
    facts = [format_timestamp(summary.duration_s)] if summary.duration_s else []
    if summary.speaking_time:
        n = len(summary.speaking_time)
        facts.append(f"{n} speaker{'s' if n != 1 else ''}")
    title = style.bold.format("Meeting summary") + "".join(f" · {f}" for f in facts)
    lines = [title]
    if summary.kind == "extract":
        lines.append(style.italic.format(EXTRACT_LABEL))
    elif summary.model:
        lines.append(style.italic.format(f"AI summary by {style.escape(summary.model)}."))
    if summary.note:
        lines.append(style.italic.format(style.escape(summary.note)))
    return lines


def _section(title: str, items: list[str], style: Style, max_items: int | None) -> list[str]:
    if not items:
        return []
    shown = items if max_items is None else items[:max_items]
    lines = ["", style.bold.format(title)]
    lines += [f"{style.bullet} {item}" for item in shown]
    hidden = len(items) - len(shown)
    if hidden:
        lines.append(style.italic.format(f"{ELLIPSIS}and {hidden} more"))
    return lines


def _compose(summary: Summary, style: Style, budget: Budget) -> str:
    esc = style.escape
    chars = budget.chars
    lines = _header(summary, style)
    if summary.text:
        lines += ["", esc(_cut(summary.text, None if chars is None else chars * 2))]
    lines += _section("Key points", [esc(_cut(b, chars)) for b in summary.bullets], style, budget.key_points)
    lines += _section("Decisions", [esc(_cut(d, chars)) for d in summary.decisions], style, budget.decisions)
    actions = []
    for item in summary.action_items:
        line = esc(_cut(item.text, chars))
        extra = []
        if item.owner:
            extra.append(style.bold.format(esc(item.owner)))
        if item.due:
            extra.append(f"due {esc(item.due)}")
        actions.append(line + (" — " + ", ".join(extra) if extra else ""))
    lines += _section("Action items", actions, style, budget.actions)
    lines += _section("Open questions", [esc(_cut(q, chars)) for q in summary.open_questions], style, budget.questions)
    talk = [
        f"{esc(t.speaker)}: {format_timestamp(t.seconds)} ({_percent(t.share)})" for t in summary.speaking_time
    ]
    lines += _section("Speaking time", talk, style, budget.speakers)
    if summary.is_empty and not summary.note:
        lines += ["", style.italic.format("Nothing to report.")]
    return "\n".join(lines).strip()


def render(summary: Summary, style: Style, limit: int) -> str:
    """The summary in `style`, at most `limit` characters."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = ""
    for budget in BUDGETS:
        text = _compose(summary, style, budget)
        if len(text) <= limit:
            return text
    return text[: limit - 1].rstrip() + ELLIPSIS if limit > 1 else text[:limit]


def render_slack(summary: Summary, limit: int = SLACK_LIMIT) -> str:
    return render(summary, SLACK, limit)


def render_discord(summary: Summary, limit: int = DISCORD_LIMIT) -> str:
    return render(summary, DISCORD, limit)


def render_plain(summary: Summary, limit: int = 40_000) -> str:
    return render(summary, PLAIN, limit)
