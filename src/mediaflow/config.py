"""The one settings object. Every value can be set with a ``MEDIAFLOW_`` environment variable."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediaflow.errors import DataDirError


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mediaflow", appauthor=False))


def normalise_database_url(url: str) -> str:
    """Return ``url`` with the SQLAlchemy psycopg 3 driver named (``postgresql+psycopg://``)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """mediaflow's configuration, read from the environment (prefix ``MEDIAFLOW_``)."""

    model_config = SettingsConfigDict(env_prefix="MEDIAFLOW_", env_file=None, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="A PostgreSQL URL. Unset: an embedded PostgreSQL in DATA_DIR/pgdata is used.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    create_data_dir: bool = Field(
        default=True,
        description="Create DATA_DIR when it is missing (false: a missing data dir is an error).",
    )
    lock_timeout_ms: int = Field(default=5000, ge=0, description="lock_timeout for migrations")
    statement_timeout_ms: int = Field(default=0, ge=0)
    backup_dir: Path | None = None
    whisper_model: str | None = Field(
        default=None,
        description="A CTranslate2 Whisper model directory; unset or 'default': bundled tiny.en.",
    )
    embedding_model_dir: Path | None = Field(
        default=None,
        description="all-MiniLM-L6-v2 files for semantic search; unset: the packaged model.",
    )
    search_min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Transcript segments below this confidence are kept but not searchable.",
    )
    frame_interval_s: float = Field(
        default=10.0, gt=0, description="An interval frame this often inside a long shot."
    )
    frames_per_hour: int = Field(
        default=720, ge=1, description="Frames a video may have analysed per hour of it."
    )
    min_frames: int = Field(
        default=30, ge=1, description="Frames a video may have analysed, however short."
    )
    worker_heartbeat_s: float = Field(
        default=10.0, gt=0, description="How often a worker tells the queue it is alive."
    )
    stalled_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A worker silent this long is dead: its tasks are handed to another.",
    )
    model_idle_unload_s: float = Field(
        default=600.0,
        ge=0,
        description="A worker unloads a local model unused this long (0: keep models loaded).",
    )

    # Cloud providers (used only when asked for by name; the defaults stay local)
    openai_api_key: SecretStr | None = Field(
        default=None,
        description="OpenAI API key; without it the `openai` provider is unavailable.",
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="OpenAI-compatible API root (the audio API is {base}/audio/transcriptions).",
    )
    openai_transcription_model: str = Field(
        default="whisper-1", description="Model the `openai` transcription provider asks for."
    )
    provider_timeout_s: float = Field(
        default=120.0, gt=0, description="Timeout of one cloud provider HTTP request."
    )
    provider_retry_attempts: int = Field(
        default=3, ge=1, description="Attempts per provider call on transient errors (429, 5xx)."
    )
    provider_retry_max_wait_s: float = Field(
        default=8.0,
        ge=0,
        description="Longest wait between two attempts (backoff, or the API's Retry-After).",
    )

    # REST API (`mediaflow serve`)
    api_host: str = Field(default="127.0.0.1", description="Address `mediaflow serve` binds.")
    api_port: int = Field(default=8000, ge=0, le=65535)
    require_api_key: bool | None = Field(
        default=None,
        description="Unset: keys are required unless the server is bound to loopback only.",
    )
    upload_max_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Largest upload the API accepts, per file."
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Server-side folders POST /jobs may read from (JSON list); empty: none.",
    )

    # --- reliability (issue 9) ---
    serve_stop_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM/SIGINT, how long `serve` lets in-flight files finish; the "
        "rest are left for the queue's stall sweep to hand to a worker again.",
    )
    unauthenticated_body_max_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest request body accepted before an API key is checked (POST /session).",
    )
    upload_request_max_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Largest multipart upload request in total; unset: upload_max_bytes "
        "(a per-file limit) times the most files one request may carry.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("postgresql", "postgres://")):
            raise ValueError("must be a PostgreSQL URL (postgresql://user@host:port/dbname)")
        return normalise_database_url(value)

    @field_validator("data_dir", "backup_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("allowed_roots")
    @classmethod
    def _resolve_roots(cls, value: list[Path]) -> list[Path]:
        # resolved once: confinement checks compare real paths (symlinks followed)
        return [root.expanduser().resolve() for root in value]

    @property
    def uses_embedded_database(self) -> bool:
        """True when no server URL is configured and the embedded PostgreSQL is used."""
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its cluster."""
        return self.data_dir / "pgdata"

    @property
    def backups_dir(self) -> Path:
        """Where ``mediaflow db backup`` writes its dumps by default."""
        return self.backup_dir or self.data_dir / "backups"

    def ensure_data_dir(self) -> Path:
        """The data directory, created when it is the default; a configured one must exist."""
        data_dir = self.data_dir
        explicit = "data_dir" in self.model_fields_set
        if not data_dir.exists():
            if explicit or not self.create_data_dir:
                raise DataDirError(
                    f"data directory {data_dir} does not exist",
                    hint="create it, or unset MEDIAFLOW_DATA_DIR to use the default",
                )
            data_dir.mkdir(parents=True, exist_ok=True)
        if not data_dir.is_dir():
            raise DataDirError(f"data directory {data_dir} is not a directory")
        if not os.access(data_dir, os.W_OK):
            raise DataDirError(f"data directory {data_dir} is not writable")
        return data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    Only the edges call this (the CLI, ``mediaflow.open``, the alembic command line);
    everything below them gets its settings from the ``Runtime`` it is handed.
    """
    return Settings()
