"""The one interface every store of originals and thumbnails speaks.

An ``ObjectStore`` keeps bytes once per content under their sha256 hex digest (the
key). Two kinds exist: ``ContentStore`` (a local folder, the default) and ``S3Store``
(any S3-compatible service). Callers never build paths or URLs themselves: they ask
the store for a byte range, a local file to decode (``local_path``: the file itself
for a local store, a verified copy in the worker's cache for S3), or a presigned URL.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mediaflow.errors import IntegrityError, InvalidInput, NotFound

__all__ = [
    "CHUNK_SIZE",
    "ObjectStore",
    "StoredObject",
    "check_key",
    "hash_file",
]

# 1 MiB: large enough that hashing, not syscalls, dominates; small enough to stay flat in memory.
CHUNK_SIZE = 1024 * 1024
_KEY_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredObject:
    """One stored object: its key (the sha256 hex digest), size and, when local, its path.

    ``deduplicated`` is true when the same bytes were already in the store and
    nothing was written. ``path`` is None for a remote store.
    """

    key: str
    sha256: str
    size_bytes: int
    path: Path | None
    deduplicated: bool = False


def check_key(key: str) -> str:
    """``key`` when it is 64 lowercase hex digits; ``InvalidInput`` otherwise.

    A key coming from a request can so never point outside the store.
    """
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise InvalidInput(f"invalid storage key {key!r}", hint="expected a sha256 hex digest")
    return key


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and size of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_file(path: Path, key: str, where: str) -> int:
    """The size of ``path`` when its bytes hash to ``key``; ``IntegrityError`` otherwise."""
    digest, size = hash_file(path)
    if digest != key:
        raise IntegrityError(f"object {key} from {where} hashes to {digest}: refused")
    return size


class ObjectStore(ABC):
    """Originals and thumbnails kept once per content, addressed by their sha256."""

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the store is, as a URL without credentials (``file:///…``, ``s3://…``)."""

    def describe(self) -> str:
        """One line naming the store for messages (never credentials)."""
        return self.url

    def check(self) -> None:  # noqa: B027 (a store with nothing to check keeps this)
        """Fail fast when the store cannot be used (a missing bucket, no permission).

        Raises a ``StorageError`` (or ``ConfigurationError``) with one clear line.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the object ``key`` is in the store."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The size of object ``key`` in bytes; ``NotFound`` when it is missing."""

    @abstractmethod
    def read_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yield ``length`` bytes of object ``key`` from ``start`` (to the end when None).

        ``NotFound`` (raised before the first chunk) when it is missing.
        """

    def read_bytes(self, key: str) -> bytes:
        """The whole object ``key`` (for small objects: thumbnails)."""
        return b"".join(self.read_range(key))

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open object ``key`` for reading (binary); ``NotFound`` when it is missing."""

    @abstractmethod
    def store(self, src_path: Path, *, replace: bool = False) -> StoredObject:
        """Copy the file ``src_path`` into the store once per content; return where it is.

        The key is the sha256 of the bytes actually written: what is stored under a key
        always hashes to it. An object of the same size already there is kept
        (deduplicated) unless ``replace`` (it was found damaged).
        """

    @abstractmethod
    def store_bytes(self, data: bytes) -> StoredObject:
        """Keep ``data`` (a thumbnail, a small derived file) once per content."""

    def store_as(self, key: str, src_path: Path, *, replace: bool = False) -> StoredObject:
        """Store ``src_path`` and refuse it (``IntegrityError``) unless it hashes to ``key``.

        Used when copying between stores: the bytes must be what the key promises.
        """
        check_key(key)
        digest, _ = hash_file(src_path)
        if digest != key:
            raise IntegrityError(
                f"{src_path} hashes to {digest}, not to the key {key} it should be stored under"
            )
        stored = self.store(src_path, replace=replace)
        if stored.key != key:  # the file changed while it was being copied
            raise IntegrityError(f"{src_path} changed while it was stored under {key}")
        return stored

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove object ``key`` (nothing happens when it is already gone).

        Only for an object nothing refers to: ingest removes the originals it stored
        for rows that were then never written.
        """

    @abstractmethod
    def local_path(self, key: str) -> Path:
        """A local file holding object ``key`` (to decode it); ``NotFound`` when missing.

        A local store returns the object itself; a remote one a verified cached copy.
        """

    def release(self, key: str) -> None:  # noqa: B027 (nothing to release locally)
        """The caller is done with ``local_path(key)`` (a cached copy may be evicted)."""

    def presigned_url(
        self, key: str, expires_s: int, content_type: str | None = None
    ) -> str | None:
        """A URL that serves object ``key`` for ``expires_s`` seconds, or None (local)."""
        return None

    @abstractmethod
    def iter_keys(self) -> Iterator[str]:
        """Every key in the store (order unspecified)."""

    def missing(self, key: str) -> NotFound:
        """The error for a missing object ``key`` of this store."""
        return NotFound(f"object {key} is missing from {self.describe()}")
