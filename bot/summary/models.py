"""The Summary both summarisers produce, so rendering is the same for an LLM summary and an automatic extract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ActionItem(BaseModel):
    """Something someone should do; `owner` is a speaker label or a named person, `due` the phrase as said."""

    text: str
    owner: str | None = None
    due: str | None = None


class SpeakerTime(BaseModel):
    """How long one speaker talked, always measured from segment timings (never by a model)."""

    speaker: str
    seconds: float
    share: float = Field(description="fraction of all attributed talk time, 0..1")


class Summary(BaseModel):
    """Meeting notes: `kind` says who wrote them, `note` why an extract stands in for an LLM summary."""

    kind: Literal["llm", "extract"]
    text: str = ""
    bullets: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    speaking_time: list[SpeakerTime] = Field(default_factory=list)
    duration_s: float = 0.0
    model: str | None = None
    note: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.bullets or self.decisions or self.action_items or self.open_questions)
