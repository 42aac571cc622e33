"""A bounded local cache of remote objects, least recently used out first.

A worker decodes files from local disk (PyAV, OpenCV, ffmpeg need a path), so an
S3 store fetches each original once into ``<data_dir>/cache/objects`` and hands out
that copy. Entries are named by their key, written to a temporary file, verified
against the key and renamed into place, so a reader never sees a partial entry.

The bound is ``max_bytes``: after each fetch the least recently used entries (by
mtime, which every hit refreshes) are removed until the total fits. Entries this
process handed out in the last ``pin_s`` seconds are kept even past the bound: a
file still being decoded is never pulled away (an unlinked file stays readable
through open descriptors anyway, but a stage may open it again).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mediaflow.storage.base import check_key

__all__ = ["ObjectCache"]

_TEMP_PREFIX = ".fetching-"


class ObjectCache:
    """Local copies of remote objects under ``root``, at most about ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int, *, pin_s: float = 3600.0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.pin_s = pin_s
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self._handed_out: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"ObjectCache({str(self.root)!r}, max_bytes={self.max_bytes})"

    def path(self, key: str) -> Path:
        """Where entry ``key`` lies (whether or not it is cached)."""
        return self.root / check_key(key)

    def get(self, key: str, fetch: Callable[[Path], None]) -> Path:
        """The cached copy of ``key``; ``fetch(temp_path)`` fills a miss (and verifies it).

        Two threads asking for the same missing key fetch it once.
        """
        final = self.path(key)
        with self._lock:
            key_lock = self._fetching.setdefault(key, threading.Lock())
        with key_lock:
            if final.is_file():
                self._touch(key, final)
                return final
            self.root.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX)
            os.close(fd)
            temp = Path(temp_name)
            try:
                fetch(temp)
                os.replace(temp, final)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
                raise
            self._touch(key, final)
        self.evict()
        return final

    def _touch(self, key: str, path: Path) -> None:
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (now, now))
        with self._lock:
            self._handed_out[key] = time.monotonic()

    def entries(self) -> list[tuple[Path, int, float]]:
        """(path, size, last use) of every entry, least recently used first."""
        found = []
        if not self.root.is_dir():
            return []
        for path in self.root.iterdir():
            if path.name.startswith(_TEMP_PREFIX):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # another process evicted it meanwhile
                continue
            found.append((path, stat.st_size, stat.st_mtime))
        found.sort(key=lambda entry: entry[2])
        return found

    def total_bytes(self) -> int:
        """The size of every entry together."""
        return sum(size for _, size, _ in self.entries())

    def evict(self) -> list[str]:
        """Remove least recently used entries until the cache fits; return their keys."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        removed: list[str] = []
        now = time.monotonic()
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            with self._lock:
                used = self._handed_out.get(path.name)
            if used is not None and now - used < self.pin_s:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path.name)
            total -= size
            with self._lock:
                self._handed_out.pop(path.name, None)
        return removed

    def release(self, key: str) -> None:
        """Tell the cache this process is done with ``key`` (it may be evicted now)."""
        with self._lock:
            self._handed_out.pop(key, None)

    def forget(self, key: str) -> None:
        """Drop the cached copy of ``key`` (its object was deleted)."""
        with self._lock:
            self._handed_out.pop(key, None)
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()
