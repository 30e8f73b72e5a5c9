"""Text from the core (light, platform-neutral markdown) as Slack `mrkdwn`."""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
# An `&` that does not already start one of Slack's three entities.
_BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
_USER_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")


def to_mrkdwn(text: str, *, user_mentions: bool = False) -> str:
    """Escape Slack's control characters and use Slack's single-asterisk bold.

    Unescaped, `<code|auto>` would render as a link and a transcript saying "<!channel>" would
    notify everyone; Slack asks for exactly `&`, `<`, `>` to be escaped. Text that is already
    escaped (the Slack summary renderer does it) is left as it is, never escaped twice."""
    escaped = _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    if user_mentions:
        # Only for answers the asker alone sees (an ephemeral one notifies no one): `<@U123>` is then
        # shown as the person's name. Channel and group mentions stay escaped whatever happens.
        escaped = _USER_MENTION.sub(r"<@\1>", escaped)
    return _BOLD.sub(r"*\1*", escaped)
