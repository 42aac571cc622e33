"""Fixtures of the HTTP tests: one server per module on its own database at head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import LiveServer, live_server
from tests.conftest import _data_dir_outside_pytest_tmp
from tests.pg import head_database, service_reachable


@pytest.fixture(scope="module")
def api_db() -> Iterator[str]:
    """A database at head on the PostgreSQL service, for one test module."""
    if not service_reachable():
        pytest.skip("no PostgreSQL service on 127.0.0.1:5432")
    with head_database() as url:
        yield url


@pytest.fixture(scope="module")
def api_data_dir() -> Iterator[Path]:
    """The server's data dir (content store), with an allowed root for server-side paths."""
    with _data_dir_outside_pytest_tmp() as path:
        (path / "allowed").mkdir()
        yield path


@pytest.fixture(scope="module")
def api(api_db: str, api_data_dir: Path) -> Iterator[LiveServer]:
    """An open server (bound to loopback: no key needed) with its own worker."""
    env = {
        "MEDIAFLOW_ALLOWED_ROOTS": f'["{api_data_dir / "allowed"}"]',
        "MEDIAFLOW_UPLOAD_MAX_BYTES": str(5 * 1024 * 1024),
    }
    with live_server(database_url=api_db, data_dir=api_data_dir, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def secure_api(api_db: str, api_data_dir: Path) -> Iterator[LiveServer]:
    """A server that requires API keys (as when bound to anything but loopback)."""
    with live_server(
        database_url=api_db, data_dir=api_data_dir, args=("--require-key", "--workers", "0")
    ) as server:
        yield server


@pytest.fixture
def samples_dir() -> Path:
    """The repo's bundled samples."""
    return Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def allowed_root(api_data_dir: Path) -> Path:
    """The server's allowed root (MEDIAFLOW_ALLOWED_ROOTS)."""
    return api_data_dir / "allowed"


@pytest.fixture(scope="module")
def processed_media(api_db: str, api_data_dir: Path) -> dict[str, object]:
    """speech_video.mp4 and text_image.png ingested and processed in-process.

    Written straight into the ``api`` server's database and content store (not
    through POST /jobs), so that read-side route tests depend on no other route.
    Returns ``{"job_id": UUID, "video": UUID, "image": UUID}``.
    """
    import sqlalchemy as sa

    from mediaflow.config import Settings
    from mediaflow.db.models import MediaFile
    from mediaflow.db.session import session_scope
    from mediaflow.ingest import ingest
    from mediaflow.pipeline.runner import run_job
    from mediaflow.storage import default_store

    samples = Path(__file__).resolve().parents[2] / "samples"
    # the store the server uses: MEDIAFLOW_DATA_DIR=api_data_dir
    store = default_store(Settings(data_dir=api_data_dir))
    result = ingest(
        [samples / "speech_video.mp4", samples / "text_image.png"],
        name="api read tests", providers=None, options=None, url=api_db, store=store,
    )  # fmt: skip
    run_job(result.job_id, store=store, url=api_db)
    with session_scope(api_db) as session:
        ids = dict(
            session.execute(
                sa.select(MediaFile.original_name, MediaFile.id).where(
                    MediaFile.job_id == result.job_id
                )
            ).all()
        )
    return {
        "job_id": result.job_id,
        "video": ids["speech_video.mp4"],
        "image": ids["text_image.png"],
    }


@pytest.fixture(scope="module")
def idle_db() -> Iterator[str]:
    """A database of its own for ``idle_api``: no other server's worker takes its tasks."""
    if not service_reachable():
        pytest.skip("no PostgreSQL service on 127.0.0.1:5432")
    with head_database() as url:
        yield url


@pytest.fixture(scope="module")
def idle_api(idle_db: str) -> Iterator[LiveServer]:
    """An open server with no worker (queued files stay queued) and no allowed roots."""
    with (
        _data_dir_outside_pytest_tmp() as data_dir,
        live_server(database_url=idle_db, data_dir=data_dir, args=("--workers", "0")) as server,
    ):
        yield server
