"""The shipped Slack manifest asks for exactly what the adapter uses, under the names it listens to."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.slack.app import COMMAND, SHORTCUT_CALLBACK_ID, SUMMARIZE_CALLBACK_ID

yaml = pytest.importorskip("yaml")

MANIFEST = Path(__file__).resolve().parents[1] / "slack-manifest.yml"
# Every Web API call the adapter makes (see the fake's endpoints) and the event that needs a scope.
NEEDED_SCOPES = {
    "chat:write",  # chat.postMessage, chat.update
    "files:read",  # files.info, url_private_download
    "files:write",  # files.getUploadURLExternal, files.completeUploadExternal
    "commands",  # /voxnote, message shortcut
    "reactions:read",  # reaction_added
    "users:read",  # users.info
    "channels:history", "groups:history", "im:history", "mpim:history",  # message.* events, conversations.*
}


def test_manifest_scopes_events_and_names_match_the_adapter() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == NEEDED_SCOPES
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "message.channels", "message.groups", "message.im", "message.mpim", "reaction_added"
    }
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    shortcuts = {(s["type"], s["callback_id"]) for s in manifest["features"]["shortcuts"]}
    assert shortcuts == {("message", SHORTCUT_CALLBACK_ID), ("message", SUMMARIZE_CALLBACK_ID)}
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
