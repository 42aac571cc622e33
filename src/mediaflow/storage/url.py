"""``MEDIAFLOW_STORAGE_URL`` to a store: ``file:///path``, ``s3://bucket/prefix`` or unset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mediaflow.config import Settings
from mediaflow.errors import ConfigurationError
from mediaflow.storage.base import ObjectStore
from mediaflow.storage.cache import ObjectCache
from mediaflow.storage.local import ContentStore

__all__ = ["StorageLocation", "open_store", "open_store_at", "parse_storage_url"]


@dataclass(frozen=True)
class StorageLocation:
    """A parsed storage URL: ``file`` (with ``path``) or ``s3`` (``bucket``, ``prefix``)."""

    scheme: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""


def parse_storage_url(url: str) -> StorageLocation:
    """Parse a storage URL; ``ConfigurationError`` (never echoing credentials) when bad."""
    parts = urlsplit(url.strip())
    if parts.username or parts.password:
        # never repeat the URL: it holds a secret
        raise ConfigurationError(
            "MEDIAFLOW_STORAGE_URL must not hold credentials",
            hint="use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
        )
    if parts.scheme == "s3":
        if not parts.hostname:
            raise ConfigurationError(f"storage URL {url!r} names no bucket (s3://bucket/prefix)")
        return StorageLocation("s3", bucket=parts.netloc, prefix=unquote(parts.path).strip("/"))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError(f"storage URL {url!r}: expected file:///absolute/path")
        return StorageLocation("file", path=Path(unquote(parts.path)))
    if not parts.scheme and url.strip().startswith("/"):
        return StorageLocation("file", path=Path(url.strip()))
    raise ConfigurationError(
        f"storage URL {url!r}: unknown scheme {parts.scheme or '(none)'!r}",
        hint="use s3://bucket/prefix or file:///path",
    )


def open_store(settings: Settings) -> ObjectStore:
    """The configured store: ``settings.storage_url``, or the data dir's when unset."""
    if not settings.storage_url:
        return ContentStore(settings.ensure_data_dir() / "originals")
    return open_store_at(settings, settings.storage_url)


def open_store_at(settings: Settings, url: str) -> ObjectStore:
    """The store at ``url`` (``file://`` or ``s3://``), with the other storage settings."""
    location = parse_storage_url(url)
    if location.scheme == "file":
        assert location.path is not None
        return ContentStore(location.path)
    from mediaflow.storage.s3 import S3Options, S3Store

    cache_dir = settings.storage_cache_dir or settings.ensure_data_dir() / "cache" / "objects"
    options = S3Options(
        part_size=settings.storage_part_size_bytes,
        multipart_threshold=settings.storage_multipart_threshold_bytes,
        retry_attempts=settings.storage_retry_attempts,
        connect_timeout_s=settings.storage_connect_timeout_s,
        read_timeout_s=settings.storage_read_timeout_s,
        addressing_style=settings.storage_addressing_style,
    )
    cache = ObjectCache(cache_dir, settings.storage_cache_max_bytes)
    return S3Store(location.bucket, location.prefix, cache, options)
