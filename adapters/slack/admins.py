"""Who may change a channel's settings on Slack: workspace admins and owners, or listed users."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackAdmins:
    """Answers `is_admin(user_id)` from `VOXNOTE_SLACK_ADMINS` or users.info (cached a few minutes)."""

    def __init__(self, client: AsyncWebClient, listed: list[str], ttl_s: float = 300.0) -> None:
        self._client = client
        self._listed = frozenset(listed)
        self._ttl = ttl_s
        self._cache: dict[str, tuple[bool, float]] = {}

    async def is_admin(self, user_id: str) -> bool:
        if user_id in self._listed:
            return True
        cached = self._cache.get(user_id)
        if cached is not None and time.monotonic() - cached[1] < self._ttl:
            return cached[0]
        try:
            resp = await self._client.users_info(user=user_id)
        except SlackApiError as e:
            # Without users:read (or for a user from another workspace) nobody is an admin: refuse.
            log.warning("users.info failed for %s: %s", user_id, e.response.get("error"))
            return False
        user = resp.get("user") or {}
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._cache[user_id] = (admin, time.monotonic())
        return admin
