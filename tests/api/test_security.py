"""What the API refuses: paths outside the allowed roots, oversized or fake uploads, bad keys."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from mediaflow.runtime import Runtime
from tests.acceptance.cli import mediaflow
from tests.api.server import LiveServer
from tests.api.test_jobs import assert_error, count_rows, wait_for
from tests.media_factory import make_text_file_renamed

LIMIT = 5 * 1024 * 1024  # the `api` fixture's MEDIAFLOW_UPLOAD_MAX_BYTES


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


def stored_files(data_dir: Path) -> list[Path]:
    """Every file in the content store (the server's runtime.store: DATA_DIR/originals)."""
    root = data_dir / "originals"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def temp_files(data_dir: Path) -> list[Path]:
    """Every file left in the upload temp area."""
    root = data_dir / "uploads"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def nothing_stored(api: LiveServer, api_runtime: Runtime, api_data_dir: Path) -> Iterator[None]:
    """The test must leave no job row, no stored object and no temp file behind."""
    db = api_runtime.db
    jobs, files, store = (
        count_rows(db, "analysis_job"),
        count_rows(db, "media_file"),
        stored_files(api_data_dir),
    )
    yield
    assert count_rows(db, "analysis_job") == jobs
    assert count_rows(db, "media_file") == files
    assert stored_files(api_data_dir) == store
    assert temp_files(api_data_dir) == []


# -- server-side paths ----------------------------------------------------------------


@pytest.fixture(scope="module")
def outside(api_data_dir: Path) -> Path:
    """A real media file next to (not inside) the allowed root."""
    samples = Path(__file__).resolve().parents[2] / "samples"
    target = api_data_dir / "secret.png"
    target.write_bytes((samples / "text_image.png").read_bytes())
    return target


@pytest.mark.usefixtures("nothing_stored")
def test_traversal_is_refused(client: httpx.Client, allowed_root: Path, outside: Path) -> None:
    for given in ("../secret.png", f"{allowed_root}/../secret.png"):
        message = assert_error(client.post("/jobs", json={"paths": [given]}), 403, "forbidden")
        assert "outside the allowed roots" in message
    # as a form field too
    assert_error(client.post("/jobs", data={"paths": "../secret.png"}), 403, "forbidden")


@pytest.mark.usefixtures("nothing_stored")
def test_absolute_path_outside_is_refused(client: httpx.Client, outside: Path) -> None:
    for given in (str(outside), "/etc/passwd", "~/.ssh/id_rsa"):
        assert_error(client.post("/jobs", json={"paths": [given]}), 403, "forbidden")


@pytest.mark.usefixtures("nothing_stored")
def test_symlink_escape_is_refused(client: httpx.Client, allowed_root: Path, outside: Path) -> None:
    link = allowed_root / "escape.png"
    link.symlink_to(outside)
    folder_link = allowed_root / "escape-dir"
    folder_link.symlink_to(outside.parent, target_is_directory=True)
    try:
        assert_error(client.post("/jobs", json={"paths": ["escape.png"]}), 403, "forbidden")
        assert_error(client.post("/jobs", json={"paths": ["escape-dir"]}), 403, "forbidden")
        # one bad path refuses the whole request, good ones included
        (allowed_root / "fine.png").write_bytes(outside.read_bytes())
        response = client.post("/jobs", json={"paths": ["fine.png", "escape.png"]})
        assert_error(response, 403, "forbidden")
    finally:
        link.unlink()
        folder_link.unlink()


@pytest.mark.usefixtures("nothing_stored")
def test_missing_path_is_404(client: httpx.Client) -> None:
    assert_error(client.post("/jobs", json={"paths": ["nope.mp4"]}), 404, "not_found")


# -- uploads ----------------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_stored")
def test_oversized_upload_refused_from_content_length(client: httpx.Client) -> None:
    big = os.urandom(LIMIT + 1024 * 1024)
    response = client.post("/jobs", files={"files": ("big.mp4", big)})
    assert "limit" in assert_error(response, 413, "too_large")


@pytest.mark.usefixtures("nothing_stored")
def test_oversized_json_body_is_413(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"paths": ["x" * (2 * 1024 * 1024)]})
    assert_error(response, 413, "too_large")


@pytest.mark.usefixtures("nothing_stored")
def test_oversized_upload_refused_while_streaming(client: httpx.Client) -> None:
    """Chunked: no Content-Length to check, so the bytes are counted as they come."""
    boundary = "mediaflowtestboundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="files"; filename="../../etc/big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    chunk = os.urandom(256 * 1024)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(LIMIT // len(chunk) + 4):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        response = client.post(
            "/jobs",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
    except (httpx.WriteError, httpx.RemoteProtocolError):
        # the server may answer and close before the client has sent everything; what
        # matters is that nothing was kept (checked by the fixture)
        return
    assert "big.mp4" in assert_error(response, 413, "too_large")


@pytest.mark.usefixtures("nothing_stored")
def test_upload_under_the_limit_passes_the_size_check(client: httpx.Client) -> None:
    # random bytes under the limit pass the size checks and fail detection instead
    response = client.post("/jobs", files={"files": ("noise.mp4", os.urandom(LIMIT - 1))})
    assert response.status_code in {415, 422}, response.text
    assert_error(response, response.status_code)


@pytest.mark.usefixtures("nothing_stored")
def test_renamed_text_file_is_415(client: httpx.Client, tmp_path: Path) -> None:
    fake = make_text_file_renamed(tmp_path / "clip.mp4")
    response = client.post("/jobs", files=[("files", ("sub/clip.mp4", fake.read_bytes()))])
    message = assert_error(response, 415, "unsupported_media")
    assert "clip.mp4" in message  # names the file the client knows


def test_renamed_text_file_among_good_ones_fails_alone(
    client: httpx.Client, tmp_path: Path
) -> None:
    # as in the CLI: the batch is analyzed, the bad file fails with its reason (issue 9)
    fake = make_text_file_renamed(tmp_path / "clip.mp4")
    samples = Path(__file__).resolve().parents[2] / "samples"
    good = (samples / "text_image.png").read_bytes()
    response = client.post(
        "/jobs",
        files=[("files", ("good.png", good)), ("files", ("sub/clip.mp4", fake.read_bytes()))],
        data={"providers": "image_features"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    files = {f["original_name"]: f for f in job["files"]}
    assert files["good.png"]["status"] == "completed"
    assert files["clip.mp4"]["status"] == "failed" and files["clip.mp4"]["error"]


@pytest.mark.usefixtures("nothing_stored")
def test_empty_upload_is_422(client: httpx.Client) -> None:
    message = assert_error(client.post("/jobs", files={"files": ("e.mp3", b"")}), 422)
    assert "e.mp3" in message


def test_upload_name_is_only_data(
    client: httpx.Client, api_data_dir: Path, api: LiveServer
) -> None:
    samples = Path(__file__).resolve().parents[2] / "samples"
    image = (samples / "text_image.png").read_bytes()
    response = client.post(
        "/jobs",
        files={"files": ("../../../../tmp/evil.png", image)},
        data={"providers": "image_features"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["files"][0]["original_name"] == "evil.png"
    assert not (api_data_dir.parent / "evil.png").exists()
    digest = hashlib.sha256(image).hexdigest()
    assert any(p.name == digest for p in stored_files(api_data_dir))
    assert temp_files(api_data_dir) == []


# -- API keys ---------------------------------------------------------------------------


def cli_env(api_db: str, api_data_dir: Path) -> dict[str, str]:
    return {"MEDIAFLOW_DATABASE_URL": api_db, "MEDIAFLOW_DATA_DIR": str(api_data_dir)}


def test_keys(
    secure_api: LiveServer, api_db: str, api_data_dir: Path, api_runtime: Runtime
) -> None:
    env = cli_env(api_db, api_data_dir)
    created = mediaflow("keys", "create", "tester", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[0]
    assert key.startswith("mf_") and len(key) > 20
    prefix = key[:11]

    with secure_api.client() as anonymous:
        assert_error(anonymous.get("/jobs"), 401, "unauthorized")
        health = anonymous.get("/healthz")
        assert health.status_code != 401  # load balancers probe it without a key
    with secure_api.client("mf_" + "x" * 43) as wrong:
        assert_error(wrong.get("/jobs"), 401, "unauthorized")
        assert_error(wrong.post("/jobs", json={"paths": ["x"]}), 401, "unauthorized")
    with secure_api.client(key) as good:
        response = good.get("/jobs")
        assert response.status_code == 200, response.text
        assert "items" in response.json()

    listed = mediaflow("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert prefix in listed.stdout and key not in listed.stdout
    with api_runtime.db.session() as session:
        rows = session.execute(sa.text("SELECT prefix, key_hash FROM api_key")).all()
        dump = session.execute(sa.text("SELECT row_to_json(api_key)::text FROM api_key")).scalars()
        assert key not in "".join(dump)
    assert (prefix, hashlib.sha256(key.encode()).hexdigest()) in [tuple(r) for r in rows]

    revoked = mediaflow("keys", "revoke", prefix, env=env)
    assert revoked.returncode == 0, revoked.stderr
    with secure_api.client(key) as old:
        assert_error(old.get("/jobs"), 401, "unauthorized")
