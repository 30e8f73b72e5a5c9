"""The shipped Slack manifest asks for exactly what the adapter uses, under the names it listens to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.slack.app import COMMAND, ENROL_CALLBACK_ID, SHORTCUT_CALLBACK_ID, SUMMARIZE_CALLBACK_ID

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
    assert shortcuts == {("message", SHORTCUT_CALLBACK_ID), ("message", SUMMARIZE_CALLBACK_ID),
                         ("message", ENROL_CALLBACK_ID)}
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def _hinted() -> list[str]:
    [command] = yaml.safe_load(MANIFEST.read_text())["features"]["slash_commands"]
    hint = command["usage_hint"]
    assert 0 < len(hint) <= 1000  # Slack's limit for usage_hint
    return [alternative.split()[0] for alternative in hint.split(" | ")]


def test_usage_hint_lists_every_subcommand_of_the_help() -> None:
    from bot.commands import HELP

    # Derived from the help text, so a subcommand added there (and to the manifest) needs no edit here.
    documented = set(re.findall(r"`/voxnote (\w+)", HELP)) | {"help"}
    assert documented <= set(_hinted()), f"missing from usage_hint: {documented - set(_hinted())}"


async def test_every_subcommand_in_the_usage_hint_is_one_the_bot_knows(tmp_path) -> None:
    from bot.commands import CommandContext
    from bot.config import Settings
    from bot.core import Voxnote
    from bot.models import Platform
    from storage import SQLiteStore
    from tests.fixtures.transcriber import ScriptedTranscriber

    store = await SQLiteStore.open(tmp_path / "v.db")
    core = Voxnote(Settings(_env_file=None, db_path=tmp_path / "v.db"), store, ScriptedTranscriber([]))
    ctx = CommandContext(Platform.slack, "T1", "C1", "U1", is_admin=True, thread_id="1.0")
    try:
        for word in _hinted():
            reply = await core.run_command(ctx, word)
            assert "unknown command" not in reply, (word, reply)
    finally:
        await store.close()
