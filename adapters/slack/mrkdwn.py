"""Text from the core (light, platform-neutral markdown) as Slack `mrkdwn`."""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def to_mrkdwn(text: str) -> str:
    """Escape Slack's control characters and use Slack's single-asterisk bold.

    Unescaped, `<code|auto>` would render as a link and a transcript saying "<!channel>" would
    notify everyone; Slack asks for exactly `&`, `<`, `>` to be escaped."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BOLD.sub(r"*\1*", escaped)
