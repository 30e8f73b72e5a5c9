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


# --- .env.example ---------------------------------------------------------------------------------------

ENV_EXAMPLE_HEADER = """\
# Every voxnote setting at its default. Copy this file to .env in the folder you start voxnote from
# (voxnote reads ./.env of its working directory; variables set in the environment win over it), then
# uncomment what you change. The README's "Settings" table lists the same.
# Generated from bot/config.py; tests/test_docs.py keeps it current (regenerate: .venv/bin/python -c
# "from tests.test_docs import env_example; print(env_example(), end='')" > .env.example).
#
# Docker: the image already sets the storage paths under /data (VOXNOTE_DB_PATH=/data/voxnote.db,
# VOXNOTE_MODEL_CACHE_DIR=/data/models, VOXNOTE_FILES_DIR=/data/files): leave them commented there.

# --- compose.yaml only --------------------------------------------------------------------------------
# The key `voxnote serve` requires and the bot sends it (any long random string).
# VOXNOTE_SERVICE_KEY=
"""
# Not a setting: compose.yaml's own variable, hands the same key to `serve` and to the bot.
COMPOSE_ONLY = {"VOXNOTE_SERVICE_KEY"}


def _sections() -> dict[str, str]:
    """Each setting's section, from the `# --- name ---` comments of bot/config.py."""
    import re

    section, found = "", {}
    for line in (ROOT / "bot" / "config.py").read_text().splitlines():
        if heading := re.match(r"\s+# --- (.+?) -+$", line):
            section = heading.group(1)
        elif field := re.match(r"    (\w+): ", line):
            found[field.group(1)] = section
    return found


def _env_default(name: str, field) -> str:
    if name == "model_cache_dir":
        return "${HOME}/.cache/voxnote"  # python-dotenv expands it when voxnote reads .env
    default = field.get_default(call_default_factory=True)
    if default is None:
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, list):
        return ",".join(default)
    return str(default)


def env_example() -> str:
    """What .env.example holds: every setting, commented out at its default, under bot/config.py's headings."""
    import textwrap

    from bot.config import Settings, env_names

    sections = _sections()
    out, current = [ENV_EXAMPLE_HEADER], None
    for name, field in Settings.model_fields.items():
        section = sections.get(name, "other")
        if section != current:
            out.append(f"\n# --- {section} " + "-" * max(3, 96 - len(section)) + "\n")
            current = section
        out.append(textwrap.fill(field.description or name, width=100, initial_indent="# ",
                                 subsequent_indent="# ") + "\n")
        out.append(f"# {env_names(name, field)[0]}={_env_default(name, field)}\n")
    return "".join(out)


ENV_LINE = r"^# ([A-Z][A-Z0-9_]*)=(.*)$"


def test_env_example_is_current_and_lists_every_setting():
    import re

    from bot.config import Settings, env_names

    text = (ROOT / ".env.example").read_text()
    listed = {m.group(1) for m in re.finditer(ENV_LINE, text, re.M)}
    wanted = {env_names(name, field)[0] for name, field in Settings.model_fields.items()}
    assert wanted - listed == set(), "settings missing from .env.example"
    assert listed - wanted - COMPOSE_ONLY == set(), ".env.example names variables voxnote does not read"
    assert text == env_example(), "regenerate .env.example (the command is in its header)"


def test_env_example_defaults_are_the_defaults(tmp_path, monkeypatch):
    """Uncommented as it stands, the file changes nothing: each value shown is the real default (a line
    with nothing after `=` stands for "unset", so it stays commented)."""
    import os
    import re

    from bot.config import Settings

    for name in [n for n in os.environ if n.startswith(("VOXNOTE_", "SLACK_", "DISCORD_", "MISTRAL_"))]:
        monkeypatch.delenv(name)
    text = (ROOT / ".env.example").read_text()
    env = tmp_path / ".env"
    env.write_text("".join(f"{m.group(1)}={m.group(2)}\n" for m in re.finditer(ENV_LINE, text, re.M) if m.group(2)))
    assert len(env.read_text().splitlines()) > 40
    assert Settings(_env_file=env) == Settings(_env_file=None)


# --- the systemd unit -----------------------------------------------------------------------------------


def test_the_systemd_unit_runs_the_bot_in_its_state_folder_and_lets_notes_finish(tmp_path):
    import configparser
    import shutil
    import subprocess
    import sys

    from bot.runner import SHUTDOWN_GRACE_SECONDS

    unit_text = (ROOT / "contrib" / "voxnote.service").read_text()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(unit_text)
    service = unit["Service"]
    assert service["ExecStart"].split()[1:] == ["run"] and service["ExecStart"].endswith("/bin/voxnote run")
    # .env is read from the working directory, so that is where the settings and the state live.
    assert service["WorkingDirectory"] == f"/var/lib/{service['StateDirectory']}" == service["Environment"].split("=")[-1]
    assert float(service["TimeoutStopSec"]) > SHUTDOWN_GRACE_SECONDS and service["KillSignal"] == "SIGTERM"
    if shutil.which("systemd-analyze") is None:
        return
    # systemd's own check, with the command pointed at this checkout's real console script.
    local = tmp_path / "voxnote.service"
    local.write_text(unit_text.replace(service["ExecStart"].split()[0], str(Path(sys.executable).with_name("voxnote"))))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    # Only what it says about this unit counts (in a container it may also grumble about the host).
    assert result.returncode == 0 and "voxnote.service" not in result.stderr, result.stderr
