"""The local store: content-addressed originals and thumbnails in a folder.

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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mediaflow.errors import InvalidInput, NotFound, StorageDenied
from mediaflow.storage.base import CHUNK_SIZE, ObjectStore, StoredObject, check_key

__all__ = ["ContentStore"]

# Originals are never modified after they are stored: owner, group and others may only read.
_OBJECT_MODE = 0o444
# Temporary files start with a dot so that they never look like a two-hex-digit fan-out folder.
_TEMP_PREFIX = ".incoming-"


class ContentStore(ObjectStore):
    """Originals kept once per content under ``root``, addressed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r})"

    @property
    def url(self) -> str:
        """``file://`` and the absolute root."""
        return self.root.absolute().as_uri()

    def describe(self) -> str:
        """The folder of the store."""
        return f"local store {self.root}"

    def check(self) -> None:
        """The root exists (or can be made) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageDenied(f"{self.describe()}: cannot create it: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageDenied(f"{self.describe()}: not writable")

    def path_for(self, key: str) -> Path:
        """Where the object ``key`` lives (whether or not it exists).

        Raises ``InvalidInput`` for anything but 64 lowercase hex digits, so that a
        key coming from a request can never point outside the store.
        """
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        """Whether the object ``key`` is in the store."""
        return self.path_for(key).is_file()

    def size(self, key: str) -> int:
        """The size of object ``key``; ``NotFound`` when it is missing."""
        try:
            return self.path_for(key).stat().st_size
        except FileNotFoundError:
            raise self.missing(key) from None

    def open(self, key: str) -> BinaryIO:
        """Open the object ``key`` for reading (binary); ``NotFound`` when it is missing."""
        path = self.path_for(key)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"stored original {key} is missing from {self.root}") from None

    def read_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yield ``length`` bytes of object ``key`` from ``start`` (to the end when None)."""
        source = self.open(key)  # NotFound here, before the first chunk
        return _iter_open(source, start, length)

    def local_path(self, key: str) -> Path:
        """The object itself; ``NotFound`` when it is missing."""
        path = self.path_for(key)
        if not path.is_file():
            raise self.missing(key)
        return path

    def delete(self, key: str) -> None:
        """Remove object ``key``; nothing happens when it is already gone."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(key).unlink()

    def iter_keys(self) -> Iterator[str]:
        """Every object under the root (temporary files are skipped)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            name = path.name
            if path.is_file() and name[:2] == path.parent.parent.name:
                try:
                    yield check_key(name)
                except InvalidInput:
                    continue

    def store(self, src_path: Path, *, replace: bool = False) -> StoredObject:
        """Copy ``src_path`` into the store (once per content) and return where it is.

        ``StorageDenied`` when the store's folder may not be written.
        """
        try:
            return self._store(src_path, replace)
        except PermissionError as exc:
            if exc.filename and Path(exc.filename) == Path(src_path):
                raise  # the caller's file, not the store
            raise StorageDenied(f"{self.describe()}: cannot write ({exc.strerror})") from None

    def _store(self, src_path: Path, replace: bool) -> StoredObject:
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
            if not replace and final.is_file() and final.stat().st_size == size:
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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX)
        except PermissionError as exc:
            raise StorageDenied(f"{self.describe()}: cannot write ({exc.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return self.store(Path(temp_name))
        finally:
            Path(temp_name).unlink(missing_ok=True)


def _iter_open(source: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
    # the generator owns the file: closed at the end, or when a client goes away mid-stream
    with source:
        source.seek(start)
        left = length
        while left is None or left > 0:
            chunk = source.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            yield chunk


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
