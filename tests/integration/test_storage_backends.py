"""One storage test suite, run on the local content store and on S3 (moto on loopback).

Every behaviour a caller relies on is checked on both backends: store, dedup, range
reads, a missing object, a wrong hash, an interrupted (multipart) upload, permission
denied, and an endpoint that is down (a clear error) or flaky (retried).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediaflow.config import Settings
from mediaflow.errors import (
    ConfigurationError,
    IntegrityError,
    NotFound,
    StorageDenied,
    StorageUnavailable,
)
from mediaflow.storage import ContentStore, ObjectStore, open_store, parse_storage_url
from mediaflow.storage.cache import ObjectCache
from tests.conftest import data_dir_outside_pytest_tmp
from tests.fakes.s3_server import SECRET_KEY, FlakyProxy, S3Server, s3_server, use_aws_env

MiB = 1024 * 1024
pytest.importorskip("boto3", reason="boto3 (the s3 extra) is not installed")

from mediaflow.storage.s3 import S3Options, S3Store  # noqa: E402

OPTIONS = S3Options(
    part_size=5 * MiB, multipart_threshold=5 * MiB, retry_attempts=3,
    connect_timeout_s=3, read_timeout_s=30,
)  # fmt: skip


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def aws(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    use_aws_env(monkeypatch, s3.endpoint)
    return s3


def _s3_store(server: S3Server, tmp_path: Path, **options: object) -> S3Store:
    settings = {**OPTIONS.__dict__, **options}
    cache = ObjectCache(tmp_path / "cache", 64 * MiB)
    return S3Store(server.new_bucket(), "media/originals", cache, S3Options(**settings))  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return ContentStore(tmp_path / "store")
    server = request.getfixturevalue("aws")
    return _s3_store(server, tmp_path)


def _file(path: Path, size: int, seed: int = 0) -> Path:
    path.write_bytes(
        hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)
    )
    return path


def test_store_reads_back_under_the_sha256(store: ObjectStore, tmp_path: Path) -> None:
    src = _file(tmp_path / "clip.mp4", 300_000)
    data = src.read_bytes()
    obj = store.store(src)
    assert obj.key == hashlib.sha256(data).hexdigest() == obj.sha256
    assert (obj.size_bytes, obj.deduplicated) == (len(data), False)
    assert store.exists(obj.key)
    assert store.size(obj.key) == len(data)
    assert store.read_bytes(obj.key) == data
    assert store.local_path(obj.key).read_bytes() == data
    with store.open(obj.key) as handle:
        assert handle.read() == data
    assert list(store.iter_keys()) == [obj.key]
    small = store.store_bytes(b"thumbnail")
    assert store.read_bytes(small.key) == b"thumbnail"
    assert sorted(store.iter_keys()) == sorted([obj.key, small.key])


def test_same_bytes_are_stored_once(store: ObjectStore, tmp_path: Path) -> None:
    one = store.store(_file(tmp_path / "a.mov", 10_000, seed=1))
    two = store.store(_file(tmp_path / "b.wav", 10_000, seed=1))
    assert two.key == one.key and two.deduplicated and not one.deduplicated
    assert store.store_bytes(b"same").key == store.store_bytes(b"same").key
    assert len(list(store.iter_keys())) == 2


def test_a_deleted_object_is_gone_and_deleting_twice_is_harmless(
    store: ObjectStore, tmp_path: Path
) -> None:
    kept = store.store(_file(tmp_path / "kept.mp4", 5_000, seed=3))
    gone = store.store(_file(tmp_path / "gone.mp4", 5_000, seed=4))
    store.local_path(gone.key)  # a cached copy too, for a remote store
    store.delete(gone.key)
    store.delete(gone.key)
    assert not store.exists(gone.key) and store.exists(kept.key)
    assert set(store.iter_keys()) == {kept.key}
    with pytest.raises(NotFound):
        store.local_path(gone.key)
    with pytest.raises(Exception, match="invalid storage key"):
        store.delete("../" + gone.key)


@pytest.mark.parametrize(
    ("start", "length"), [(0, None), (0, 1), (1000, 5000), (299_990, None), (123, 0)]
)
def test_range_reads(store: ObjectStore, tmp_path: Path, start: int, length: int | None) -> None:
    src = _file(tmp_path / "clip.mp4", 300_000, seed=2)
    data = src.read_bytes()
    key = store.store(src).key
    got = b"".join(store.read_range(key, start, length))
    assert got == data[start : None if length is None else start + length]


def test_a_missing_object_is_not_found(store: ObjectStore) -> None:
    key = "0" * 64
    assert not store.exists(key)
    for call in (store.size, store.read_bytes, store.local_path, store.read_range):
        with pytest.raises(NotFound, match=key):
            call(key)
    with pytest.raises(Exception, match="invalid storage key"):
        store.exists("../../etc/passwd")


def test_bytes_that_do_not_hash_to_their_key_are_refused(
    store: ObjectStore, tmp_path: Path
) -> None:
    src = _file(tmp_path / "clip.mp4", 5000, seed=3)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(IntegrityError, match=wrong):
        store.store_as(wrong, src)
    assert not store.exists(wrong)
    assert list(store.iter_keys()) == []
    right = hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.store_as(right, src).key == right


def test_a_large_file_goes_up_in_parts_and_back_whole(store: ObjectStore, tmp_path: Path) -> None:
    src = _file(tmp_path / "big.mkv", 12 * MiB + 17, seed=4)  # three parts of 5 MiB at most
    obj = store.store(src)
    assert store.size(obj.key) == src.stat().st_size
    assert hashlib.sha256(store.local_path(obj.key).read_bytes()).hexdigest() == obj.key
    if isinstance(store, S3Store):
        assert store.pending_uploads() == []


def test_an_interrupted_upload_leaves_nothing(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _file(tmp_path / "big.mkv", 12 * MiB, seed=5)
    key = hashlib.sha256(src.read_bytes()).hexdigest()
    if isinstance(store, S3Store):
        real = S3Store._upload_part

        def cut_after_first_part(self, *args):  # type: ignore[no-untyped-def]
            if args[2] == 2:  # (name, upload_id, number, chunk, key)
                raise ConnectionResetError("the uploader died")
            return real(self, *args)

        monkeypatch.setattr(S3Store, "_upload_part", cut_after_first_part)
    else:

        def died(fd: int) -> None:
            raise ConnectionResetError("the uploader died")

        monkeypatch.setattr("mediaflow.storage.local.os.fsync", died)
    with pytest.raises(ConnectionResetError):
        store.store(src)
    monkeypatch.undo()
    assert not store.exists(key)
    assert list(store.iter_keys()) == []
    if isinstance(store, S3Store):
        assert store.pending_uploads() == []  # the parts were aborted, not left to bill
    else:
        assert not [p for p in store.root.rglob("*") if p.is_file()]  # no temporary file
    assert store.store(src).key == key  # and a new try succeeds


def test_permission_denied_is_a_clear_error(
    store: ObjectStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    src = _file(tmp_path / "clip.mp4", 1000, seed=6)
    if isinstance(store, S3Store):
        server: S3Server = request.getfixturevalue("aws")
        server.set_auth(True)  # the fake keys are unknown to moto's IAM now
        try:
            with pytest.raises(StorageDenied) as caught:
                store.store(src)
        finally:
            server.set_auth(False)
        message = str(caught.value)
        assert store.bucket in message and "refused (403" in message
    else:
        with data_dir_outside_pytest_tmp() as base:  # a folder an unprivileged user can enter
            readable = base / "clip.mp4"
            shutil.copyfile(src, readable)
            readable.chmod(0o644)
            root = base / "store"
            root.mkdir()
            root.chmod(0o555)
            local = ContentStore(root)
            euid = os.geteuid()
            if euid == 0:  # root ignores file modes: act as nobody for the call
                os.seteuid(65534)
            try:
                with pytest.raises(StorageDenied, match="cannot write") as caught:
                    local.store(readable)
            finally:
                if euid == 0:
                    os.seteuid(0)
            root.chmod(0o755)
        message = str(caught.value)
    assert SECRET_KEY not in message and "\n" not in message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_endpoint_that_is_down_is_a_clear_error(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _s3_store(aws, tmp_path, retry_attempts=2, connect_timeout_s=1)
    down = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", down)
    for call in (store.check, lambda: store.store(_file(tmp_path / "a.mp4", 100))):
        with pytest.raises(StorageUnavailable) as caught:
            call()
        message = str(caught.value)
        assert down in message and store.bucket in message and "cannot reach" in message
        assert SECRET_KEY not in message and "AKIA" not in message
        assert caught.value.retryable


def test_a_flaky_endpoint_is_retried(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _s3_store(aws, tmp_path, retry_attempts=4)
    with FlakyProxy((aws.host, aws.port), drop=2) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        obj = store.store(_file(tmp_path / "a.mp4", 1000, seed=7))
        assert store.read_bytes(obj.key) == (tmp_path / "a.mp4").read_bytes()
        assert proxy.accepted > 2  # the dropped connections were tried again


def test_a_missing_bucket_fails_the_check_in_one_line(aws: S3Server, tmp_path: Path) -> None:
    store = S3Store("no-such-bucket-here", "x", ObjectCache(tmp_path / "c", MiB), OPTIONS)
    with pytest.raises(StorageDenied) as caught:
        store.check()
    message = str(caught.value)
    assert "no-such-bucket-here" in message and aws.endpoint in message
    assert "does not exist" in message and "\n" not in message


def test_a_damaged_remote_object_is_never_decoded(aws: S3Server, tmp_path: Path) -> None:
    store = _s3_store(aws, tmp_path)
    key = hashlib.sha256(b"the real bytes").hexdigest()
    aws.client().put_object(Bucket=store.bucket, Key=store.object_name(key), Body=b"rot")
    with pytest.raises(IntegrityError, match="damaged"):
        store.local_path(key)
    assert store.cache.entries() == []


def test_presigned_urls_serve_the_object(store: ObjectStore, tmp_path: Path) -> None:
    obj = store.store(_file(tmp_path / "clip.mp4", 4000, seed=8))
    url = store.presigned_url(obj.key, 60, "video/mp4")
    if isinstance(store, ContentStore):
        assert url is None
        return
    assert url is not None and SECRET_KEY not in url
    answer = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert answer.status_code == 206
    assert answer.content == (tmp_path / "clip.mp4").read_bytes()[10:20]


def test_storage_urls(tmp_path: Path) -> None:
    assert parse_storage_url("s3://bucket/a/b/").bucket == "bucket"
    assert parse_storage_url("s3://bucket/a/b/").prefix == "a/b"
    assert parse_storage_url("file:///srv/media").path == Path("/srv/media")
    with pytest.raises(ConfigurationError) as caught:
        parse_storage_url("s3://AKIAX:topsecret@bucket/p")
    assert "topsecret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        parse_storage_url("gs://bucket")
    settings = Settings(data_dir=tmp_path, storage_url=f"file://{tmp_path}/elsewhere")
    local = open_store(settings)
    assert isinstance(local, ContentStore) and local.root == tmp_path / "elsewhere"
    assert isinstance(open_store(Settings(data_dir=tmp_path)), ContentStore)
    remote = open_store(Settings(data_dir=tmp_path, storage_url="s3://b/p"))
    assert isinstance(remote, S3Store) and remote.cache.root == tmp_path / "cache" / "objects"
