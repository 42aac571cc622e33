"""The content store: one object per content, atomic, read-only, addressed by sha256."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.runtime import Runtime
from mediaflow.storage import CHUNK_SIZE, ContentStore
from tests import media_factory as mf


def test_store_hashes_and_lays_out_by_sha256(tmp_path: Path) -> None:
    src = mf.make_random_bytes(tmp_path / "clip.mp4", size=3 * CHUNK_SIZE + 17)
    store = ContentStore(tmp_path / "store")

    obj = store.store(src)

    expected = hashlib.sha256(src.read_bytes()).hexdigest()
    assert obj.key == obj.sha256 == expected
    assert obj.size_bytes == src.stat().st_size
    assert obj.deduplicated is False
    # the extension stays out of the path: the name lives in the database
    assert obj.path == tmp_path / "store" / expected[:2] / expected[2:4] / expected
    assert obj.path.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(obj.path.stat().st_mode) == 0o444
    assert store.exists(expected)
    assert store.path_for(expected) == obj.path
    with store.open(expected) as handle:
        assert handle.read() == src.read_bytes()
    # no temporary files left behind
    assert [p.name for p in (tmp_path / "store").iterdir()] == [expected[:2]]


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    first = mf.make_text_image(tmp_path / "a.png")
    second = tmp_path / "copy-with-other-name.jpg"
    second.write_bytes(first.read_bytes())
    store = ContentStore(tmp_path / "store")

    one = store.store(first)
    mtime = one.path.stat().st_mtime_ns
    two = store.store(second)

    assert two.key == one.key and two.path == one.path
    assert two.deduplicated is True
    assert one.path.stat().st_mtime_ns == mtime  # not rewritten
    objects = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert objects == [one.path]


def test_zero_byte_file_is_stored(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    obj = store.store(mf.make_zero_byte(tmp_path / "empty.mov"))
    assert obj.size_bytes == 0
    assert obj.sha256 == hashlib.sha256(b"").hexdigest()
    assert obj.path.is_file()


def test_missing_source_and_bad_keys(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    with pytest.raises(NotFound):
        store.store(tmp_path / "nope.mp4")
    with pytest.raises(InvalidInput):
        store.store(tmp_path)
    for key in ("../../etc/passwd", "ABCD" * 16, "ab" * 31, ""):
        with pytest.raises(InvalidInput):
            store.path_for(key)
    absent = "0" * 64
    assert not store.exists(absent)
    with pytest.raises(NotFound):
        store.open(absent)


def test_damaged_object_is_replaced(tmp_path: Path) -> None:
    src = mf.make_unsupported(tmp_path / "doc.pdf")
    store = ContentStore(tmp_path / "store")
    obj = store.store(src)
    obj.path.chmod(0o644)
    obj.path.write_bytes(b"short")

    again = store.store(src)

    assert again.deduplicated is False
    assert again.path.read_bytes() == src.read_bytes()


def test_default_store_lives_in_the_data_dir(tmp_path: Path) -> None:
    # no database is needed (nor started) for the store
    store = Runtime(Settings(data_dir=tmp_path)).store
    assert store.root == tmp_path / "originals"
    obj = store.store(mf.make_text_file_renamed(tmp_path / "notes.mp4"))
    assert obj.path.is_relative_to(tmp_path / "originals")
