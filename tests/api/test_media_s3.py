"""``GET /media/{id}/content`` on an S3 store: ranges read from the store, or a redirect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mediaflow.api.app import create_app
from mediaflow.pipeline.ingest import ingest
from mediaflow.runtime import Runtime
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.fakes.s3_server import S3Server, s3_server, use_aws_env

pytest.importorskip("boto3", reason="boto3 (the s3 extra) is not installed")


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    use_aws_env(monkeypatch, s3.endpoint)
    return f"s3://{s3.new_bucket()}/originals"


def _stored(runtime: Runtime, tmp_path: Path) -> tuple[str, bytes]:
    path = mf.make_text_image(tmp_path / "page.png", "HELLO S3")
    result = ingest(runtime, [path], name="s3", providers=["rapidocr"], options=None)
    with runtime.db.session() as session:
        from mediaflow.db.models import MediaFile

        (media,) = session.query(MediaFile).filter_by(job_id=result.job_id).all()
        return str(media.id), path.read_bytes()


def test_content_and_ranges_come_from_the_bucket(head_db: str, tmp_path: Path, s3_env: str) -> None:
    with make_runtime(head_db, tmp_path, storage_url=s3_env) as runtime:
        media_id, data = _stored(runtime, tmp_path)
        assert not (tmp_path / "originals").exists()  # nothing kept locally
        with TestClient(create_app(runtime, worker_concurrency=0)) as client:
            whole = client.get(f"/media/{media_id}/content")
            assert whole.status_code == 200 and whole.content == data
            part = client.get(f"/media/{media_id}/content", headers={"Range": "bytes=8-15"})
            assert part.status_code == 206 and part.content == data[8:16]
            assert part.headers["content-range"] == f"bytes 8-15/{len(data)}"
            tail = client.get(f"/media/{media_id}/content", headers={"Range": "bytes=-4"})
            assert tail.content == data[-4:]


def test_content_can_redirect_to_a_presigned_url(head_db: str, tmp_path: Path, s3_env: str) -> None:
    with make_runtime(
        head_db, tmp_path, storage_url=s3_env, storage_presigned_redirect_s=120
    ) as runtime:
        media_id, data = _stored(runtime, tmp_path)
        with TestClient(create_app(runtime, worker_concurrency=0)) as client:
            answer = client.get(f"/media/{media_id}/content", follow_redirects=False)
        assert answer.status_code == 307
        location = answer.headers["location"]
        assert "X-Amz-Signature" in location and "X-Amz-Expires=120" in location
        assert httpx.get(location).content == data
        assert httpx.get(location, headers={"Range": "bytes=0-3"}).content == data[:4]


def test_keyframe_thumbnails_are_read_from_the_same_bucket(
    head_db: str, tmp_path: Path, s3_env: str
) -> None:
    from mediaflow.db.models import MediaKeyframe

    with make_runtime(head_db, tmp_path, storage_url=s3_env) as runtime:
        media_id, _ = _stored(runtime, tmp_path)
        jpeg = b"\xff\xd8\xff\xe0 a small thumbnail \xff\xd9"
        stored = runtime.store.store_bytes(jpeg)  # what the frame stage does per shot
        with runtime.db.session() as session:
            session.add(
                MediaKeyframe(
                    media_file_id=media_id, shot=0, start_s=0, end_s=1, timestamp_s=0.5,
                    storage_key=stored.key, width=8, height=8,
                )
            )  # fmt: skip
        with TestClient(create_app(runtime, worker_concurrency=0)) as client:
            answer = client.get(f"/media/{media_id}/keyframes/0")
        assert answer.status_code == 200 and answer.content == jpeg
        assert answer.headers["content-type"] == "image/jpeg"
