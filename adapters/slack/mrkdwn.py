"""Text from the core (light, platform-neutral markdown) as Slack `mrkdwn`."""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
# An `&` that does not already start one of Slack's three entities.
_BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def to_mrkdwn(text: str) -> str:
    """Escape Slack's control characters and use Slack's single-asterisk bold.

    Unescaped, `<code|auto>` would render as a link and a transcript saying "<!channel>" would
    notify everyone; Slack asks for exactly `&`, `<`, `>` to be escaped. Text that is already
    escaped (the Slack summary renderer does it) is left as it is, never escaped twice."""
    escaped = _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    return _BOLD.sub(r"*\1*", escaped)
