"""The one settings object. Every value can be set with a ``MEDIAFLOW_`` environment variable."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

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


# How much of FFmpeg's own logging reaches Python (media/avlog.py says why "off")
FfmpegLogLevel = Literal["off", "error", "warning", "info"]


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

    # --- cloud providers (issue 13) ---
    # Every cloud provider runs only when a job names it. A key setting left unset makes
    # its provider unavailable (listed with the reason); a base URL points it elsewhere
    # (the tests point each one at a local fake of the vendor's wire format).
    deepgram_api_key: SecretStr | None = Field(default=None, description="Deepgram API key.")
    deepgram_base_url: str = Field(default="https://api.deepgram.com")
    deepgram_model: str = Field(default="nova-3", description="Deepgram model (?model=).")
    assemblyai_api_key: SecretStr | None = Field(default=None, description="AssemblyAI key.")
    assemblyai_base_url: str = Field(default="https://api.assemblyai.com")
    assemblyai_speech_model: str = Field(default="universal")
    google_speech_api_key: SecretStr | None = Field(
        default=None, description="Google Cloud API key with Speech-to-Text enabled."
    )
    google_speech_base_url: str = Field(default="https://speech.googleapis.com")
    google_speech_project: str | None = Field(
        default=None, description="Google Cloud project id (Speech-to-Text v2 needs it)."
    )
    google_speech_location: str = Field(default="global")
    google_speech_model: str = Field(default="long")
    google_speech_language: str = Field(default="en-US")
    aws_region: str | None = Field(
        default=None, description="AWS region; unset: the AWS chain (AWS_DEFAULT_REGION)."
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="Endpoint for every AWS service; unset: AWS_ENDPOINT_URL."
    )
    aws_access_key_id: SecretStr | None = Field(
        default=None, description="Unset: the standard AWS credential chain."
    )
    aws_secret_access_key: SecretStr | None = Field(default=None)
    aws_transcribe_bucket: str | None = Field(
        default=None, description="S3 bucket Amazon Transcribe reads its input from."
    )
    aws_transcribe_language: str | None = Field(
        default=None, description="Language code for Transcribe; unset: IdentifyLanguage."
    )
    azure_speech_api_key: SecretStr | None = Field(default=None, description="Speech key.")
    azure_speech_region: str = Field(default="eastus")
    azure_speech_base_url: str | None = Field(
        default=None, description="Unset: https://{region}.api.cognitive.microsoft.com."
    )
    azure_speech_locales: list[str] = Field(default_factory=lambda: ["en-US"])
    openai_vision_model: str = Field(
        default="gpt-4o-mini", description="Model the `openai` analysis provider asks for."
    )
    anthropic_api_key: SecretStr | None = Field(default=None, description="Anthropic key.")
    anthropic_base_url: str = Field(default="https://api.anthropic.com")
    anthropic_model: str = Field(default="claude-haiku-4-5")
    google_vision_api_key: SecretStr | None = Field(
        default=None, description="Google Cloud API key with Cloud Vision enabled."
    )
    google_vision_base_url: str = Field(default="https://vision.googleapis.com")
    azure_vision_api_key: SecretStr | None = Field(default=None, description="Vision key.")
    azure_vision_base_url: str | None = Field(
        default=None, description="Resource endpoint, https://<name>.cognitiveservices.azure.com."
    )
    cloud_max_frames: int = Field(
        default=8, ge=1, description="Frames of one video a cloud vision provider is sent."
    )
    cloud_poll_interval_s: float = Field(default=2.0, gt=0, description="Job-API poll interval.")
    cloud_poll_timeout_s: float = Field(
        default=1800.0, gt=0, description="Longest wait for a job-based API (AssemblyAI, AWS)."
    )
    cloud_chunk_overlap_s: float = Field(
        default=2.0, ge=0, description="Overlap of audio chunks sent to a size-limited API."
    )
    cloud_prices: dict[str, dict[str, float]] | None = Field(
        default=None,
        description="USD per billed unit, {'kind:provider': {unit: usd}}; unset: the "
        "dated defaults of mediaflow.providers.cloud.pricing (JSON; merged over them).",
    )
    # --- long media and transcription speed (issue 14, items 5 and 7) ---
    whisper_decoding: Literal["pauses", "sequential", "batched"] = Field(
        default="pauses",
        description="faster-whisper decoding: windows cut at pauses (a chunk of a long file "
        "hears what the whole file would), sequential 30 s windows, or batched VAD chunks "
        "(bench/transcription_modes.py compares them).",
    )
    whisper_batch_size: int = Field(
        default=8, ge=1, description="VAD chunks decoded together when whisper_decoding=batched."
    )
    chunk_threshold_s: float = Field(
        default=1800.0,
        ge=0,
        description="Files longer than this are split into chunks processed as separate "
        "queue tasks (0: never split).",
    )
    chunk_length_s: float = Field(
        default=600.0, gt=0, description="Length of one chunk of a long file, in seconds."
    )
    chunk_overlap_s: float = Field(
        default=5.0,
        ge=0,
        description="Audio each chunk reads beyond its edges, so that words cut by a chunk "
        "boundary are heard whole by one of the two chunks (widened to the pause search's "
        "reach, 5.65 s, where smaller).",
    )
    # --- people, speakers, languages (issue 12) ---
    face_score_threshold: float = Field(
        default=0.6, gt=0, lt=1, description="Least YuNet score a face must have to be kept."
    )
    people_match_threshold: float = Field(
        default=0.45,
        gt=0,
        lt=1,
        description="Least cosine similarity (SFace) for a face to join an existing person.",
    )
    diarization: bool = Field(
        default=True, description="Give transcript segments speakers (resemblyzer encoder)."
    )
    max_speakers: int | None = Field(
        default=None, ge=1, description="Most speakers diarization may find; unset: no bound."
    )
    speaker_threshold: float = Field(
        default=0.65,
        gt=0,
        lt=1,
        description="Least cosine similarity of two speech turns' voices to be one speaker.",
    )
    whisper_cache_dir: Path | None = Field(
        default=None,
        description="Where the joined multilingual Whisper base lives; unset: DATA_DIR/models.",
    )
    auto_multilingual: bool = Field(
        default=True,
        description="Re-transcribe with the multilingual model when the language is not English.",
    )
    # --- performance (issue 14: API processes, fast reads) ---
    api_http_workers: int = Field(
        default=1,
        ge=1,
        description="HTTP processes of `mediaflow serve` (above 1: queue work in its own process).",
    )
    api_read_pool_size: int = Field(
        default=4, ge=1, description="Connections per HTTP process for the single-query reads."
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

    # --- real-world media (issue 10; image memory: issue 9) ---
    ffmpeg_log_level: FfmpegLogLevel = Field(
        default="off",
        description="FFmpeg's own messages at this level and above go to the "
        "mediaflow.ffmpeg logger at DEBUG (off: dropped inside FFmpeg). For debugging "
        "only: FFmpeg's decoding threads then call into Python, which can deadlock a "
        "decode (media/avlog.py).",
    )
    max_undecodable_fraction: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="A stream with more undecodable packets than this share fails its file; "
        "below it the damage is recorded as a warning and what decodes is analyzed.",
    )
    max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Most pixels an image is decoded to: a JPEG over it is decoded scaled "
        "down, any other image over it is refused.",
    )
    provider_min_confidence: dict[str, float] = Field(
        default_factory=dict,
        description='Per provider, e.g. {"faster_whisper": 0.3}: transcript segments under '
        "it are kept, marked low_confidence and not searchable.",
    )
    reuse_results: bool = Field(
        default=True,
        description="A file whose content (sha256) was analyzed by the same provider "
        "versions gets those results copied instead of analyzed again (--force: analyze).",
    )
    # --- storage and scale-out (issue 15) ---
    storage_url: str | None = Field(
        default=None,
        description="Where originals and thumbnails live: unset (DATA_DIR/originals), "
        "file:///path, or s3://bucket/prefix (endpoint, region, keys: the AWS_* settings).",
    )
    storage_cache_dir: Path | None = Field(
        default=None, description="Local cache of remote originals (default DATA_DIR/cache)."
    )
    storage_cache_max_bytes: int = Field(
        default=20 * 1024**3, ge=0, description="Size bound of that cache (LRU eviction)."
    )
    storage_presigned_redirect_s: int = Field(
        default=0,
        ge=0,
        le=7 * 24 * 3600,
        description="S3: GET /media/{id}/content redirects to a presigned URL valid this "
        "long (0: the server streams the bytes itself).",
    )
    storage_part_size_bytes: int = Field(
        default=8 * 1024**2, ge=5 * 1024**2, description="S3 multipart upload part size."
    )
    storage_multipart_threshold_bytes: int = Field(
        default=16 * 1024**2, ge=0, description="S3: larger files go up in parts."
    )
    storage_retry_attempts: int = Field(
        default=3, ge=1, le=20, description="S3: attempts per request (standard retry mode)."
    )
    storage_connect_timeout_s: float = Field(default=5.0, gt=0)
    storage_read_timeout_s: float = Field(default=60.0, gt=0)
    storage_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="S3 bucket addressing (MinIO and most others: path)."
    )
    worker_drain_timeout_s: float | None = Field(
        default=None,
        ge=0,
        description="On SIGTERM a worker finishes its files this long at most, then hands "
        "them back (unset: waits for them).",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    Only the edges call this (the CLI, ``mediaflow.open``, the alembic command line);
    everything below them gets its settings from the ``Runtime`` it is handed.
    """
    return Settings()
