"""All configuration in one object, built from `VOXNOTE_*` environment variables and a `.env` file.

Tokens are `SecretStr` so they never show up in logs or reprs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from typing import Annotated

from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOXNOTE_", env_file=".env", extra="ignore", populate_by_name=True)

    # --- transcription -------------------------------------------------------------------------
    transcriber: Literal["local", "mistral", "realtime"] = Field(
        "local", description="`local`: the embedded engine; `mistral`: any Mistral-compatible HTTP service; "
        "`realtime`: its realtime websocket (the first base URL), fed while the note downloads"
    )
    mistral_base_url: str = Field(
        "https://api.mistral.ai",
        description="base URL of the transcription API; several, comma-separated, spread notes over a pool of "
        "engines (`voxnote serve`) and skip a dead one",
    )
    mistral_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("MISTRAL_API_KEY", "VOXNOTE_MISTRAL_API_KEY"), description="API key (Bearer)"
    )
    mistral_model: str = Field("voxtral-mini-latest", description="model id sent to the service")
    request_timeout_s: float = Field(300.0, description="read timeout for one transcription call")
    connect_timeout_s: float = Field(10.0, description="connect timeout for HTTP calls")
    max_retries: int = Field(4, description="retries on connect errors, 429 and 5XX")

    model: str = Field(
        "base",
        description="local engine model: `base` (multilingual), `tiny.en`, a CTranslate2 model directory, "
        "or a faster-whisper model name (needs the internet)",
    )
    model_cache_dir: Path = Field(Path.home() / ".cache" / "voxnote", description="where the joined model is kept")
    cpu_threads: int = Field(2, description="CPU threads for the local engine")
    beam_size: int = Field(1, description="beam size of the local engine (1 is fastest and deterministic)")

    # --- limits ----------------------------------------------------------------------------------
    max_audio_bytes: int = Field(100_000_000, description="largest audio file accepted")
    max_audio_seconds: float = Field(
        2 * 3600,
        description="recordings must be shorter than this (seconds): one as long is refused from its declared "
        "length before decoding, or as soon as the decoded audio reaches it; also bounds decoded memory (64 KB/s) "
        "and decoding work (48 kHz stereo this long)",
    )

    # --- jobs ------------------------------------------------------------------------------------
    jobs_concurrency: int = Field(2, description="notes transcribed at once (all workspaces)")
    jobs_per_workspace: int = Field(1, description="notes transcribed at once for one workspace/guild")
    max_attempts: int = Field(4, description="tries per note before giving up")
    lease_seconds: float = Field(60.0, description="a running job not renewed for this long is resumed")

    # --- storage ---------------------------------------------------------------------------------
    db_path: Path = Field(Path("voxnote.db"), description="SQLite database file")
    # A SecretStr like the tokens: the URL usually holds the database password.
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL (`postgresql://user:password@host:5432/db`): keep everything there "
        "instead of the SQLite file"
    )
    retention_days: int = Field(30, description="transcripts older than this are purged")
    health_port: int | None = Field(None, description="serve /healthz and /metrics on this port (off when unset)")
    health_host: str = Field("127.0.0.1", description="address of the health/metrics endpoint")

    # --- Slack -----------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_alias("SLACK_BOT_TOKEN", "VOXNOTE_SLACK_BOT_TOKEN"),
        description="Slack bot token (`xoxb-`); enables the Slack adapter")
    slack_app_token: SecretStr | None = Field(None, validation_alias=_alias("SLACK_APP_TOKEN", "VOXNOTE_SLACK_APP_TOKEN"),
        description="Slack app-level token (`xapp-`): Socket Mode, no public URL needed")
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_alias("SLACK_SIGNING_SECRET", "VOXNOTE_SLACK_SIGNING_SECRET"),
        description="Slack signing secret: HTTP Events API mode (requests are verified)",
    )
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL")
    slack_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated Slack user ids allowed to change settings"
    )
    slack_http_port: int = Field(3000, description="port of the HTTP Events API endpoint (when no app token)")
    slack_posts_per_second: float = Field(
        1.0, gt=0, description="chat.postMessage pace per channel (Slack allows about 1 per second, short bursts)"
    )
    slack_updates_per_minute: float = Field(
        45, gt=0, description="chat.update and chat.delete per workspace (Slack's Tier 3: 50 per minute)"
    )
    slack_history_per_minute: float = Field(
        1, gt=0, description="conversations.history/replies per workspace: 1 for apps outside the Slack "
        "Marketplace, 50 for Marketplace apps"
    )

    # --- Discord ---------------------------------------------------------------------------------
    discord_token: SecretStr | None = Field(None, validation_alias=_alias("DISCORD_TOKEN", "VOXNOTE_DISCORD_TOKEN"),
        description="Discord bot token; enables the Discord adapter")
    discord_api_url: str = Field("https://discord.com/api/v10", description="Discord REST base URL")
    discord_gateway_url: str = Field("wss://gateway.discord.gg/", description="Discord gateway URL")
    discord_guild_id: int | None = Field(None, description="sync slash commands to this guild only (development)")
    discord_ignore_bots: bool = Field(True, description="ignore audio posted by other bots")
    discord_shard_count: int | None = Field(
        None, ge=1, description="gateway shards of the bot in all (replicas split them; unset: one connection)"
    )
    discord_shard_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="comma-separated shards this replica connects (each below the shard count; unset: all of them)",
    )

    # --- summaries (bot/summary: resolved by bot.summary.chat.llm_endpoint) ---------------------
    llm_base_url: str | None = Field(
        None, description="chat-completions base URL (Mistral, vLLM, Ollama, llama.cpp...); unset: Mistral's "
        "when a Mistral or LLM key is set, else the offline summariser"
    )
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for llm_base_url (Mistral's URL: falls back "
                                          "to the Mistral key)")
    llm_model: str = Field("mistral-small-latest", description="chat model id sent to the LLM endpoint")
    llm_context_chars: int = Field(24000, description="transcript characters per LLM call (longer: map-reduce)")
    llm_timeout_s: float = Field(120.0, description="read timeout for one chat-completions call")

    # --- service (`voxnote serve`) -------------------------------------------------------------
    service_host: str = Field("127.0.0.1", description="address `voxnote serve` binds to")
    service_port: int = Field(8000, description="port `voxnote serve` listens on")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Bearer keys the service accepts (none: no auth, which only loopback allows)",
    )
    service_allow_anonymous: bool = Field(
        False, description="let `voxnote serve` run without API keys on an address beyond loopback (everyone "
                           "who reaches it can use it and shares one file owner)"
    )
    url_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated host names, IPs or CIDR networks `file_url` may reach although not public",
    )
    files_dir: Path = Field(Path("voxnote-files"), description="where uploaded files are kept")
    file_ttl_hours: float = Field(24.0, description="uploaded files are deleted after this many hours")
    files_max_total_bytes: int = Field(2 * 1024**3, description="disk space all uploaded files may use together")
    files_max_bytes_per_key: int = Field(512 * 1024**2, description="disk space one API key's uploaded files may "
                                         "use (0: no per-key limit)")
    files_max_count_per_key: int = Field(1000, description="files one API key may keep at once (0: no limit)")
    files_max_concurrent_uploads: int = Field(4, ge=1, description="`/v1/files` uploads in progress at once; beyond "
                                              "that the service answers 429")
    max_concurrent: int = Field(2, description="transcriptions the service runs at once")
    max_queue: int = Field(8, description="requests waiting for a slot; beyond that the service answers 429")
    fetch_timeout_s: float = Field(60.0, description="total time allowed to download one `file_url`")
    service_max_bytes_in_flight: int = Field(
        300_000_000, description="audio bytes all transcription requests together may hold in memory (429 beyond)"
    )
    service_body_min_rate: int = Field(
        8192, ge=1, description="slowest request body accepted, in bytes/s after the grace period (408 below)"
    )
    service_body_grace_s: float = Field(10.0, ge=0, description="seconds a request body may start slowly")

    log_level: str = Field("INFO", description="logging level")

    @field_validator("slack_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> list[str]:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return list(value or [])  # type: ignore[call-overload]

    @field_validator("api_keys", "url_allowlist", mode="before")
    @classmethod
    def _split_service_lists(cls, value: object) -> list[object]:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
            # " , " is a typo, not a wish to turn authentication off: say so instead of running open.
            if value.strip() and not items:
                raise ValueError("the list has separators but no entries; leave it unset for none")
            return items
        return list(value or [])  # type: ignore[call-overload]

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: object) -> list[object]:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return list(value or [])  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _shards_within_count(self) -> Settings:
        # A shard id the count does not cover is closed by Discord (4010) only after connecting: said here.
        if self.discord_shard_ids:
            if self.discord_shard_count is None:
                raise ValueError("VOXNOTE_DISCORD_SHARD_IDS needs VOXNOTE_DISCORD_SHARD_COUNT")
            wrong = [i for i in self.discord_shard_ids if not 0 <= i < self.discord_shard_count]
            if wrong or len(set(self.discord_shard_ids)) != len(self.discord_shard_ids):
                raise ValueError(f"VOXNOTE_DISCORD_SHARD_IDS must be distinct numbers from 0 to "
                                 f"{self.discord_shard_count - 1} (VOXNOTE_DISCORD_SHARD_COUNT), not {wrong or 'repeated'}")
        return self

    @field_validator("api_keys", mode="after")
    @classmethod
    def _no_blank_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not key.get_secret_value().strip() for key in value):
            raise ValueError("an API key is blank")
        return value


def env_names(name: str, field: object) -> list[str]:
    """The environment variables that set one field (aliases first, as pydantic-settings reads them)."""
    alias = getattr(field, "validation_alias", None)
    if isinstance(alias, AliasChoices):
        return [str(a) for a in alias.choices]
    return [f"VOXNOTE_{name.upper()}"]


def settings_error(exc: ValidationError) -> str:
    """A bad setting in words a user can act on: the environment variable, not the pydantic field."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else ""
        field = Settings.model_fields.get(name)
        where = " or ".join(env_names(name, field)) if field is not None else name
        lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines) or str(exc)


def settings_table() -> str:
    """Markdown table of every setting; the README embeds it and a test keeps the two in step."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if name == "model_cache_dir":
            default = "~/.cache/voxnote"
        shown = "" if default is None else (",".join(default) if isinstance(default, list) else str(default))
        rows.append(f"| `{env_names(name, field)[0]}` | `{shown}` | {field.description or ''} |".replace("``", ""))
    return "\n".join(rows)
