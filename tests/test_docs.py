"""The README stays true: its settings table is the Settings model, its commands exist."""

from pathlib import Path

from bot.cli import build_parser
from bot.config import settings_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_settings_table_is_current():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- settings:start")
    table = readme[readme.index("\n", start) + 1 : readme.index("<!-- settings:end -->")].strip()
    assert table == settings_table(), "regenerate the README's settings table from bot.config.settings_table()"


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for cmd in ("transcribe", "run", "serve", "discord-invite"):
        assert f"voxnote {cmd}" in readme and cmd in commands
    assert "samples/voice-note.ogg" in readme and (ROOT / "samples" / "voice-note.ogg").exists()
