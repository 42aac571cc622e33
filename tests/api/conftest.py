"""Fixtures of the HTTP tests: one server per module on its own database at head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaflow.runtime import Runtime
from tests.api.server import LiveServer, live_server
from tests.conftest import data_dir_outside_pytest_tmp, make_runtime
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
    with data_dir_outside_pytest_tmp() as path:
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
def api_runtime(api_db: str, api_data_dir: Path) -> Iterator[Runtime]:
    """A runtime on the ``api`` server's database and content store, for in-process reads
    and writes of a test module (the server's own MEDIAFLOW_DATA_DIR: same originals)."""
    with make_runtime(api_db, api_data_dir) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def processed_media(api_runtime: Runtime) -> dict[str, object]:
    """speech_video.mp4 and text_image.png ingested and processed in-process.

    Written straight into the ``api`` server's database and content store (not
    through POST /jobs), so that read-side route tests depend on no other route.
    Returns ``{"job_id": UUID, "video": UUID, "image": UUID}``.
    """
    import sqlalchemy as sa

    from mediaflow.db.models import MediaFile
    from mediaflow.pipeline.ingest import ingest
    from mediaflow.pipeline.runner import run_job

    samples = Path(__file__).resolve().parents[2] / "samples"
    result = ingest(
        api_runtime,
        [samples / "speech_video.mp4", samples / "text_image.png"],
        name="api read tests", providers=None, options=None,
    )  # fmt: skip
    run_job(api_runtime, result.job_id)
    with api_runtime.db.session() as session:
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
def idle_data_dir() -> Iterator[Path]:
    """The data dir (content store) of ``idle_api``."""
    with data_dir_outside_pytest_tmp() as path:
        yield path


@pytest.fixture(scope="module")
def idle_api(idle_db: str, idle_data_dir: Path) -> Iterator[LiveServer]:
    """An open server with no worker (queued files stay queued) and no allowed roots."""
    with live_server(
        database_url=idle_db, data_dir=idle_data_dir, args=("--workers", "0")
    ) as server:
        yield server


@pytest.fixture(scope="module")
def idle_runtime(idle_db: str, idle_data_dir: Path) -> Iterator[Runtime]:
    """A runtime on ``idle_api``'s database and content store."""
    with make_runtime(idle_db, idle_data_dir) as runtime:
        yield runtime
