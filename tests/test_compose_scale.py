"""compose.scale.yaml (docs/scale.md), read as `docker compose` would, without a Docker daemon: PostgreSQL,
two bot replicas and two engines, every replica given the database, both engines and its share of
Slack's budget, and nothing published that only the bots need."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import Settings
from storage.postgres import PostgresStore
from bot.engine.pool import base_urls
from tests.test_container import interpolate

ROOT = Path(__file__).resolve().parents[1]
VARIABLES = {"VOXNOTE_SERVICE_KEY": "scale-test-key-51c2", "VOXNOTE_DB_PASSWORD": "scale-test-db-pw-9e0d"}


def services() -> dict:
    return yaml.safe_load((ROOT / "compose.scale.yaml").read_text())["services"]


def env(service: dict) -> dict[str, str]:
    return {k: interpolate(str(v), VARIABLES) for k, v in service.get("environment", {}).items()}


def test_two_bot_replicas_share_postgres_and_both_engines():
    found = services()
    assert set(found) == {"postgres", "serve-1", "serve-2", "bot"}
    bot = found["bot"]
    assert bot["command"] == "run" and bot["deploy"]["replicas"] == 2
    assert {name: dep["condition"] for name, dep in bot["depends_on"].items()} == {
        "postgres": "service_healthy", "serve-1": "service_healthy", "serve-2": "service_healthy"}
    settings = Settings(_env_file=None, **{k.lower().removeprefix("voxnote_"): v for k, v in env(bot).items()})
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == (
        f"postgresql://voxnote:{VARIABLES['VOXNOTE_DB_PASSWORD']}@postgres:5432/voxnote")
    assert settings.transcriber == "mistral"
    assert base_urls(settings.mistral_base_url) == ["http://serve-1:8000", "http://serve-2:8000"]
    for name in ("serve-1", "serve-2"):
        serve = found[name]
        assert serve["command"] == "serve" and any(str(v).endswith(":/data") for v in serve["volumes"])
        # The key each bot replica sends is the one both engines accept.
        assert env(serve)["VOXNOTE_API_KEYS"] == VARIABLES["VOXNOTE_SERVICE_KEY"]
    assert settings.mistral_api_key is not None
    assert settings.mistral_api_key.get_secret_value() == VARIABLES["VOXNOTE_SERVICE_KEY"]
    # The database password PostgreSQL is started with is the one in the bots' URL.
    assert env(found["postgres"])["POSTGRES_PASSWORD"] == VARIABLES["VOXNOTE_DB_PASSWORD"]


def test_the_replicas_share_slacks_budget_through_the_database():
    """The budgets are counted in PostgreSQL for all replicas together (tests/test_shared_rate_budgets.py):
    each is given Slack's whole budget, the defaults, rather than a share that would only slow them down."""
    bot = services()["bot"]
    assert bot["deploy"]["replicas"] > 1
    mine = Settings(_env_file=None, **{k.lower().removeprefix("voxnote_"): v for k, v in env(bot).items()})
    defaults = Settings(_env_file=None)
    for field in ("slack_posts_per_second", "slack_updates_per_minute", "slack_history_per_minute"):
        assert getattr(mine, field) == getattr(defaults, field), field
    assert mine.database_url is not None and mine.database_url.get_secret_value().startswith("postgresql://")
    assert PostgresStore.several_processes


def test_only_the_bots_reach_the_database_and_the_engines():
    for name, service in services().items():
        assert "ports" not in service, f"{name} is published"
