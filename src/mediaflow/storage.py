"""Content-addressed storage of original files.

Every original is kept once, under the sha256 of its bytes::

    <root>/ab/cd/abcd...<64 hex digits>

The runtime puts ``<root>`` at ``<data_dir>/originals``. The key is the
sha256 hex digest and nothing else: the file's name and extension live in the
database (``media_file.original_name``), so two uploads of the same bytes under
different names share one object.

A file is streamed in chunks into a temporary file inside ``<root>`` while it is
hashed, flushed to disk, made read-only, and then moved into place with
``os.replace``: readers see either no object or the whole object, never a part.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mediaflow.errors import InvalidInput, NotFound

__all__ = ["CHUNK_SIZE", "ContentStore", "StoredObject"]

# 1 MiB: large enough that hashing, not syscalls, dominates; small enough to stay flat in memory.
CHUNK_SIZE = 1024 * 1024
# Originals are never modified after they are stored: owner, group and others may only read.
_OBJECT_MODE = 0o444
_KEY_RE = re.compile(r"[0-9a-f]{64}")
# Temporary files start with a dot so that they never look like a two-hex-digit fan-out folder.
_TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class StoredObject:
    """One stored original: its key (the sha256 hex digest), size and where it lies.

    ``deduplicated`` is true when the same bytes were already in the store and
    nothing was written.
    """

    key: str
    sha256: str
    size_bytes: int
    path: Path
    deduplicated: bool = False


class ContentStore:
    """Originals kept once per content under ``root``, addressed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Where the object ``key`` lives (whether or not it exists).

        Raises ``InvalidInput`` for anything but 64 lowercase hex digits, so that a
        key coming from a request can never point outside the store.
        """
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise InvalidInput(f"invalid storage key {key!r}", hint="expected a sha256 hex digest")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        """Whether the object ``key`` is in the store."""
        return self.path_for(key).is_file()

    def open(self, key: str) -> BinaryIO:
        """Open the object ``key`` for reading (binary); ``NotFound`` when it is missing."""
        path = self.path_for(key)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"stored original {key} is missing from {self.root}") from None

    def store(self, src_path: Path) -> StoredObject:
        """Copy ``src_path`` into the store (once per content) and return where it is.

        The file is read once: hashed and written to a temporary file in the same
        pass. When the same bytes are already stored, nothing is rewritten and the
        existing object is returned with ``deduplicated=True``.
        """
        src = Path(src_path)
        if not src.exists():
            raise NotFound(f"{src} does not exist")
        if not src.is_file():
            raise InvalidInput(f"{src} is not a regular file")
        self.root.mkdir(parents=True, exist_ok=True)

        # The temporary file lives in the store itself: same filesystem, so the final
        # os.replace is an atomic rename and never a copy.
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX)
        temp = Path(temp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out, src.open("rb") as source:
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                # The original may be the only copy once the caller moves on: make it durable.
                os.fsync(out.fileno())
            key = digest.hexdigest()
            final = self.path_for(key)
            if final.is_file() and final.stat().st_size == size:
                temp.unlink()
                return StoredObject(key, key, size, final, deduplicated=True)
            # A present object of the wrong size cannot come from this code (writes are
            # atomic); it was damaged from outside, so the fresh copy replaces it.
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temp, _OBJECT_MODE)
            os.replace(temp, final)
            _fsync_dir(final.parent)
            return StoredObject(key, key, size, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise

    def store_bytes(self, data: bytes) -> StoredObject:
        """Keep ``data`` (a thumbnail, a small derived file) once per content, like ``store``."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return self.store(Path(temp_name))
        finally:
            Path(temp_name).unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
