"""``mediaflow storage migrate``: a local store to S3 and back, resumable, hash-verified."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.errors import StorageUnavailable
from mediaflow.runtime import Runtime
from mediaflow.services.storage import migrate
from mediaflow.storage import ContentStore, ObjectStore, open_store_at
from tests.acceptance.cli import mediaflow
from tests.fakes.s3_server import S3Server, aws_env, s3_server, use_aws_env

pytest.importorskip("boto3", reason="boto3 (the s3 extra) is not installed")


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def runtime(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    use_aws_env(monkeypatch, s3.endpoint)
    with Runtime(Settings(data_dir=tmp_path)) as made:
        yield made


def _fill(store: ObjectStore, tmp_path: Path) -> list[str]:
    keys = []
    for i in range(3):
        src = tmp_path / f"f{i}.bin"
        src.write_bytes(os.urandom(1000 + i))
        keys.append(store.store(src).key)
    keys.append(store.store_bytes(b"a thumbnail").key)
    return sorted(keys)


def test_local_to_s3_and_back(runtime: Runtime, s3: S3Server, tmp_path: Path) -> None:
    keys = _fill(runtime.store, tmp_path)
    url = f"s3://{s3.new_bucket()}/media"
    report = migrate(runtime, url)
    assert (report.copied, report.skipped, report.failed) == (4, 0, [])
    remote = open_store_at(runtime.settings, url)
    assert sorted(remote.iter_keys()) == keys
    assert report.bytes_copied == sum(runtime.store.size(k) for k in keys)

    again = migrate(runtime, url)  # nothing left to do: a finished run is a no-op
    assert (again.copied, again.skipped) == (0, 4)

    back = tmp_path / "back"
    home = migrate(runtime, f"file://{back}", from_url=url)
    assert (home.copied, home.failed) == (4, [])
    local = ContentStore(back)
    for key in keys:
        assert hashlib.sha256(local.read_bytes(key)).hexdigest() == key


def test_an_interrupted_run_resumes(
    runtime: Runtime, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _fill(runtime.store, tmp_path)
    url = f"s3://{s3.new_bucket()}/media"
    from mediaflow.storage.s3 import S3Store

    real = S3Store.store_as
    calls = {"n": 0}

    def endpoint_goes_down(self: S3Store, key: str, path: Path, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise StorageUnavailable("object store went away")
        return real(self, key, path, **kw)

    monkeypatch.setattr(S3Store, "store_as", endpoint_goes_down)
    with pytest.raises(StorageUnavailable):
        migrate(runtime, url)
    monkeypatch.setattr(S3Store, "store_as", real)
    resumed = migrate(runtime, url)
    assert (resumed.copied, resumed.skipped) == (2, 2)
    assert sorted(open_store_at(runtime.settings, url).iter_keys()) == keys


def test_damaged_objects_are_refused_and_reported(
    runtime: Runtime, s3: S3Server, tmp_path: Path
) -> None:
    keys = _fill(runtime.store, tmp_path)
    store = runtime.store
    assert isinstance(store, ContentStore)
    damaged = store.path_for(keys[0])
    damaged.chmod(0o644)
    damaged.write_bytes(b"bit rot" + damaged.read_bytes()[7:])
    bucket = s3.new_bucket()
    env = {**aws_env(s3.endpoint), "MEDIAFLOW_DATA_DIR": str(tmp_path)}
    done = mediaflow("storage", "migrate", "--to", f"s3://{bucket}/m", env=env)
    assert done.returncode == 65, done.stdout + done.stderr
    assert "3 copied" in done.stdout and "1 refused" in done.stdout
    assert keys[0] in done.stderr and "hashes to" in done.stderr
    remote = open_store_at(runtime.settings, f"s3://{bucket}/m")
    assert not remote.exists(keys[0])

    # a destination object damaged in place (same size) is found with --verify-existing
    s3.client().put_object(
        Bucket=bucket, Key=remote.object_name(keys[1]),  # type: ignore[attr-defined]
        Body=b"x" * store.size(keys[1]),
    )  # fmt: skip
    plain = migrate(runtime, f"s3://{bucket}/m")
    assert plain.copied == 0
    checked = migrate(runtime, f"s3://{bucket}/m", verify_existing=True)
    assert checked.copied == 1
    assert hashlib.sha256(remote.read_bytes(keys[1])).hexdigest() == keys[1]
