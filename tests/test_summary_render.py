"""Rendering summaries for Slack (mrkdwn) and Discord (markdown): labels, escaping, and length limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Transcript
from bot.summary import render_discord, render_plain, render_slack
from bot.summary.meeting import Meeting
from bot.summary.models import ActionItem, SpeakerTime, Summary
from bot.summary.offline import extract

DATA = Path(__file__).parent / "data" / "meeting"


@pytest.fixture(scope="module")
def extract_summary() -> Summary:
    t = Transcript.model_validate_json((DATA / "meeting.json").read_text())
    return extract(Meeting.from_transcripts([t]))


def big_llm_summary(n: int = 40) -> Summary:
    return Summary(
        kind="llm", model="mistral-small-latest", duration_s=5400,
        text="A long planning meeting about the Q3 roadmap. " * 10,
        bullets=[f"Point {i}: " + "details " * 30 for i in range(n)],
        decisions=[f"Decision {i}: " + "because " * 20 for i in range(n)],
        action_items=[ActionItem(text=f"Task {i} " + "do things " * 15, owner=f"Speaker {i % 5 + 1}", due="by Friday")
                      for i in range(n)],
        open_questions=[f"Question {i}? " + "hmm " * 20 for i in range(n)],
        speaking_time=[SpeakerTime(speaker=f"Speaker {i}", seconds=600 - i, share=1 / 12) for i in range(12)],
    )


LIMITS = [60, 200, 500, 1000, 2000, 3000, 4096]


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("render", [render_slack, render_discord, render_plain])
def test_every_limit_is_respected(render, limit, extract_summary):
    for summary in (extract_summary, big_llm_summary(), extract_summary.model_copy(update={"note": "x " * 400})):
        text = render(summary, limit=limit)
        assert 0 < len(text) <= limit


def test_defaults_fit_each_platform(extract_summary):
    assert len(render_slack(big_llm_summary())) <= 3000  # one Slack section block
    assert len(render_discord(big_llm_summary())) <= 2000  # one Discord message


def test_the_extract_is_labelled_as_such(extract_summary):
    for text in (render_slack(extract_summary), render_discord(extract_summary), render_slack(extract_summary, 200)):
        assert "Automatic extract" in text and "not an AI summary" in text
    assert "AI summary by" not in render_slack(extract_summary)


def test_the_llm_summary_names_its_model():
    text = render_discord(big_llm_summary())
    assert "AI summary by mistral-small-latest" in text and "Automatic extract" not in text
    assert text.startswith("**Meeting summary** · 1:30:00 · 12 speakers")


def test_fallback_note_is_shown():
    s = Summary(kind="extract", note="The AI summary failed (the summary model is unavailable).",
                bullets=["Speaker 1: a point"])
    for text in (render_slack(s), render_discord(s)):
        assert "The AI summary failed (the summary model is unavailable)." in text


def test_slack_layout_of_the_sample_meeting(extract_summary):
    text = render_slack(extract_summary)
    assert text.splitlines()[0] == "*Meeting summary* · 5:18 · 4 speakers"
    for title in ("*Key points*", "*Decisions*", "*Action items*", "*Open questions*", "*Speaking time*"):
        assert title in text
    assert "• Carol, can you send the new onboarding mockups to the team by Friday? — *Carol*, due by Friday" in text
    assert "• Speaker 1: 1:47 (37%)" in text
    assert "**" not in text


def test_discord_layout(extract_summary):
    text = render_discord(extract_summary, 4096)
    assert "**Action items**" in text and "- Dan, could you check the flaky login test on CI? — **Dan**" in text


def test_shrinking_keeps_action_items_longest(extract_summary):
    text = render_discord(extract_summary)  # 2,000 characters: something must give
    assert "…and" in text
    assert text.count("\n- ") > 10
    assert sum(a.text[:25] in text for a in extract_summary.action_items) >= 10
    assert all(d[:25] in text for d in extract_summary.decisions)


def test_truncated_sections_say_how_much_is_hidden():
    text = render_slack(big_llm_summary(), 1500)
    assert "_…and " in text and " more_" in text


def test_slack_control_characters_are_escaped():
    s = Summary(kind="llm", model="m", text="Ping <!channel> & <@U123>", decisions=["a < b > c"])
    text = render_slack(s)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text and "a &lt; b &gt; c" in text
    assert "<!channel>" not in text


def test_discord_markdown_and_mass_mentions_are_neutralised():
    s = Summary(kind="llm", model="m", text="Hey @everyone, *this* is __big__ and `code`",
                action_items=[ActionItem(text="ping @here", owner="Speaker_1")])
    text = render_discord(s)
    assert "@everyone" not in text and "@here" not in text
    assert r"\*this\*" in text and r"\_\_big\_\_" in text and r"\`code\`" in text
    assert r"**Speaker\_1**" in text


def test_an_empty_summary_says_so():
    assert "Nothing to report" in render_slack(Summary(kind="extract"))
    assert "nothing was said" in render_discord(Summary(kind="extract", note="nothing was said"))


def test_limit_must_be_positive(extract_summary):
    with pytest.raises(ValueError):
        render_slack(extract_summary, 0)
