"""The Docker image and compose file, tested without a Docker daemon: the image's defaults read as the
Settings model reads them, and its build step, entrypoint and HEALTHCHECK run for real against real
`voxnote serve` and `voxnote run` processes. What needs a daemon (`docker build` itself, the volume
copy, the published ports) is not tested here; docs/docker.md says so."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from bot.config import Settings
from bot.errors import ConfigError
from bot.service.server import check_exposure

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "voice-note.ogg"
VOXNOTE = Path(sys.executable).with_name("voxnote")  # the console script pip installed
KEY = "compose-test-key-7f3a"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in instructions():
        if word == "ENV":
            env.update(token.split("=", 1) for token in shlex.split(args))
    return env


def in_repo(image_path: str) -> Path:
    """The repository file a COPY put at `image_path`."""
    for word, args in instructions():
        if word != "COPY":
            continue
        *sources, dest = args.split()
        for source in sources:
            target = dest + Path(source).name if dest.endswith("/") else dest
            if target == image_path:
                return ROOT / source
    raise AssertionError(f"no COPY puts anything at {image_path}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the developer's own voxnote settings or platform tokens."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("VOXNOTE_", "SLACK_", "DISCORD_", "MISTRAL_"))}
    return {**keep, **extra}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`, as `docker compose` resolves them."""
    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise AssertionError(f"compose would stop: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def service_env(name: str) -> dict[str, str]:
    raw = compose()["services"][name].get("environment", {})
    return {k: interpolate(str(v), {"VOXNOTE_SERVICE_KEY": KEY}) for k, v in raw.items()}


def healthcheck_command() -> list[str]:
    (args,) = [args for word, args in instructions() if word == "HEALTHCHECK"]
    cmd = json.loads(args[args.index("CMD") + 3:].strip())
    # The image's python is this interpreter; the script is the repository file the image copied.
    return [sys.executable if part == "python" else str(in_repo(part)) if part.startswith("/") else part
            for part in cmd]


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)


def wait_for(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s")


# --- the image's defaults ----------------------------------------------------------------------------


def test_every_path_setting_is_under_data_in_the_image(monkeypatch):
    env = image_env()
    for name in list(os.environ):
        if name.startswith("VOXNOTE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    # Derived from the model: a storage setting added later must get its /data default here too.
    paths = {name: getattr(settings, name) for name, field in Settings.model_fields.items() if field.annotation is Path}
    assert set(paths) >= {"db_path", "model_cache_dir", "files_dir"}
    for name, path in paths.items():
        assert path.is_absolute() and path.parts[:2] == ("/", "data"), (name, path)


def test_the_model_is_prepared_before_data_becomes_a_volume():
    words = [(word, args) for word, args in instructions()]
    prepare = next(i for i, (w, a) in enumerate(words) if w == "RUN" and "prepare.py" in a)
    volume = next(i for i, (w, a) in enumerate(words) if w == "VOLUME")
    user = max(i for i, (w, _) in enumerate(words[:prepare]) if w == "USER")
    # Files written under a VOLUME after it is declared are thrown away, and the running user must own them.
    assert user < prepare < volume and words[volume][1] == "/data" and words[user][1] != "root"
    assert ("ENTRYPOINT", '["voxnote-entrypoint"]') in words and ("CMD", '["run"]') in words


def test_the_image_serves_beyond_loopback_only_with_keys(monkeypatch):
    for name in list(os.environ):
        if name.startswith("VOXNOTE_"):
            monkeypatch.delenv(name)
    for name, value in image_env().items():
        monkeypatch.setenv(name, value)
    bare = Settings(_env_file=None)
    assert bare.service_host == "0.0.0.0"
    with pytest.raises(ConfigError, match="VOXNOTE_SERVICE_ALLOW_ANONYMOUS"):
        check_exposure(bare, bare.service_host)
    for name, value in service_env("serve").items():
        monkeypatch.setenv(name, value)
    with_keys = Settings(_env_file=None)
    check_exposure(with_keys, with_keys.service_host)  # compose's serve starts
    assert [k.get_secret_value() for k in with_keys.api_keys] == [KEY]


# --- the build step ---------------------------------------------------------------------------------


def test_the_build_step_joins_and_checks_the_models(tmp_path):
    (run,) = [args for word, args in instructions() if word == "RUN" and "prepare.py" in args]
    script = in_repo(shlex.split(run)[1])
    cache = tmp_path / "models"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env=clean_env(VOXNOTE_MODEL_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr
    assert "speaker model loaded" in result.stdout
    model = cache / "whisper-base" / "model.bin"
    assert model.stat().st_size > 100_000_000
    # The stamp of the checked digest: the container's first start does not hash 145 MB again.
    assert model.with_name("model.bin.sha256").is_file()


# --- the entrypoint -----------------------------------------------------------------------------------


def entrypoint(*args: str, env: dict[str, str] | None = None, stdin: str = "", user: int | None = None,
               script: Path | None = None):
    command = ["sh", str(script or in_repo("/usr/local/bin/voxnote-entrypoint")), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    path = f"{VOXNOTE.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120,
                          env=clean_env(PATH=path, **(env or {})))


def test_the_entrypoint_knows_every_subcommand():
    script = in_repo("/usr/local/bin/voxnote-entrypoint").read_text()
    listed = set(re.search(r'^SUBCOMMANDS="([^"]*)"', script, re.M).group(1).split())
    assert listed == set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_the_entrypoint_passes_options_and_subcommands_to_voxnote():
    version = entrypoint("--version")
    assert version.returncode == 0 and version.stdout.startswith("voxnote "), version.stderr
    invite = entrypoint("discord-invite", "123456789012345678")
    assert invite.returncode == 0 and "client_id=123456789012345678" in invite.stdout, invite.stderr
    other = entrypoint("echo", "any", "command")
    assert other.returncode == 0 and other.stdout == "any command\n"


def test_the_entrypoint_runs_the_bot_by_default(tmp_path):
    # No platform token: the console adapter, which ends with its input. The remote transcriber loads no model.
    result = entrypoint(env={"VOXNOTE_DB_PATH": str(tmp_path / "data" / "voxnote.db"),
                             "VOXNOTE_MODEL_CACHE_DIR": str(tmp_path / "data" / "models"),
                             "VOXNOTE_TRANSCRIBER": "mistral", "VOXNOTE_MISTRAL_BASE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr
    assert "voxnote console" in result.stdout and (tmp_path / "data" / "voxnote.db").is_file()


def test_an_unwritable_data_folder_is_one_plain_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = entrypoint("run", env={"VOXNOTE_DB_PATH": str(blocker / "voxnote.db")})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{blocker} (VOXNOTE_DB_PATH) is not writable by uid" in result.stderr


def test_with_a_database_url_the_sqlite_folder_is_not_required(tmp_path):
    # The image's default VOXNOTE_DB_PATH points into /data; a replica on PostgreSQL may run without that
    # volume, and must then be told about the database it cannot reach, not about a file it never opens.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = entrypoint("run", env={"VOXNOTE_DB_PATH": str(blocker / "voxnote.db"),
                                    "VOXNOTE_DATABASE_URL": "postgresql://voxnote:pw@127.0.0.1:9/voxnote",
                                    "VOXNOTE_MODEL_CACHE_DIR": str(tmp_path / "models"),
                                    "VOXNOTE_TRANSCRIBER": "mistral", "VOXNOTE_MISTRAL_BASE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "VOXNOTE_DB_PATH" not in result.stderr
    assert "cannot open the database (VOXNOTE_DATABASE_URL)" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the entrypoint as another user")
def test_a_data_folder_owned_by_another_user_names_the_fix():
    # What a bind mount owned by root looks like to the image's user (uid 10001): it can enter, not write.
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        data.chmod(0o755)
        # A copy that user can read: the clone itself may sit in a folder only root may enter (CI's does).
        script = data / "entrypoint.sh"
        shutil.copyfile(in_repo("/usr/local/bin/voxnote-entrypoint"), script)
        script.chmod(0o755)
        result = entrypoint("serve", env={"VOXNOTE_FILES_DIR": str(data / "files"),
                                          "VOXNOTE_MODEL_CACHE_DIR": str(data / "models")}, user=10001, script=script)
    assert result.returncode == 1, result.stderr
    assert "(VOXNOTE_FILES_DIR) is not writable by uid 10001" in result.stderr and "chown -R 10001" in result.stderr


# --- compose, the HEALTHCHECK and both roles for real --------------------------------------------------


def test_compose_runs_the_bot_against_serve_with_data_volumes():
    services = compose()["services"]
    assert set(services) >= {"bot", "serve"}
    assert services["serve"]["command"] == "serve" and services["bot"]["command"] == "run"
    assert services["bot"]["depends_on"]["serve"]["condition"] == "service_healthy"
    for name in ("bot", "serve"):
        assert any(str(v).endswith(":/data") for v in services[name]["volumes"]), name
    bot = Settings(_env_file=None, **{k.lower().removeprefix("voxnote_"): v for k, v in service_env("bot").items()})
    assert bot.transcriber == "mistral" and bot.mistral_base_url == "http://serve:8000"
    assert bot.mistral_api_key is not None and bot.mistral_api_key.get_secret_value() == KEY
    # The key compose gives the bot is the one serve accepts.
    assert service_env("serve")["VOXNOTE_API_KEYS"] == KEY


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory):
    """The real `voxnote serve`, as compose starts it (its keys), on loopback at a free port."""
    data = tmp_path_factory.mktemp("serve-data")
    port = free_port()
    env = clean_env(**image_env(), **service_env("serve"))
    env.update(VOXNOTE_SERVICE_HOST="127.0.0.1", VOXNOTE_SERVICE_PORT=str(port),
               VOXNOTE_FILES_DIR=str(data / "files"), VOXNOTE_DB_PATH=str(data / "voxnote.db"),
               VOXNOTE_HEALTH_PORT=str(free_port()))
    env.pop("VOXNOTE_MODEL_CACHE_DIR")  # the joined model this machine already has
    before = healthcheck(env)
    proc = subprocess.Popen([str(VOXNOTE), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=data)
    try:
        wait_for(lambda: healthcheck(env).returncode == 0, 180, "serve's HEALTHCHECK", proc)
        yield port, env, before
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_healthcheck_follows_a_real_serve(serve_process):
    _port, env, before = serve_process
    assert before.returncode == 1 and "unhealthy" in before.stderr  # nothing listened yet
    after = healthcheck(env)
    assert after.returncode == 0 and "/health answered 200" in after.stdout


def test_the_compose_bot_transcribes_through_serve_and_reports_healthy(serve_process, tmp_path):
    port, _env, _ = serve_process
    bot_env = service_env("bot")
    bot_env["VOXNOTE_MISTRAL_BASE_URL"] = bot_env["VOXNOTE_MISTRAL_BASE_URL"].replace("serve:8000", f"127.0.0.1:{port}")
    env = clean_env(**image_env(), **bot_env)
    env.update(VOXNOTE_DB_PATH=str(tmp_path / "voxnote.db"), VOXNOTE_HEALTH_PORT=str(free_port()),
               VOXNOTE_SERVICE_PORT=str(free_port()))  # nothing there: the check must use the bot's /healthz
    env.pop("VOXNOTE_MODEL_CACHE_DIR")
    proc = subprocess.Popen([str(VOXNOTE), "run"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_for(lambda: healthcheck(env).returncode == 0, 60, "the bot's HEALTHCHECK", proc)
        out, err = proc.communicate(f"/voxnote language en\n{SAMPLE}\n", timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    words = {w.strip(".,!?;:'\"").lower() for w in out.split()}
    assert {"echo", "latency", "machine"} <= words, out
