"""The workers' local cache of remote objects: bounded, least recently used out first."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from mediaflow.storage.cache import ObjectCache


def _key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def _filler(size: int, calls: list[str], key: str):  # type: ignore[no-untyped-def]
    def fetch(dest: Path) -> None:
        calls.append(key)
        dest.write_bytes(b"x" * size)

    return fetch


def test_hits_do_not_fetch_and_the_least_recently_used_goes_first(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=300, pin_s=0)
    calls: list[str] = []
    for n in range(3):
        cache.get(_key(n), _filler(100, calls, _key(n)))
        # mtime resolution: make the order of use unambiguous
        os.utime(cache.path(_key(n)), (time.time() - 100 + n, time.time() - 100 + n))
    cache.get(_key(0), _filler(100, calls, "never"))  # a hit refreshes key 0
    assert calls == [_key(0), _key(1), _key(2)]
    cache.get(_key(3), _filler(100, calls, _key(3)))  # over the bound: key 1 is the oldest
    names = {path.name for path, _, _ in cache.entries()}
    assert names == {_key(0), _key(2), _key(3)}
    assert cache.total_bytes() <= 300


def test_entries_in_use_are_kept_past_the_bound(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=100, pin_s=3600)
    calls: list[str] = []
    first = cache.get(_key(1), _filler(100, calls, "a"))
    cache.get(_key(2), _filler(100, calls, "b"))
    assert first.exists()  # still being decoded by this process
    cache.release(_key(1))
    cache.evict()
    assert not first.exists() and cache.path(_key(2)).exists()


def test_a_failed_fetch_leaves_no_entry(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=1000)

    def broken(dest: Path) -> None:
        dest.write_bytes(b"half")
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        cache.get(_key(1), broken)
    assert list(tmp_path.iterdir()) == []
