"""Fixtures of the HTTP tests: one server per module on its own database at head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import LiveServer, live_server
from tests.conftest import _data_dir_outside_pytest_tmp
from tests.pg import SERVICE_URL, scratch_database, service_reachable


@pytest.fixture(scope="module")
def api_db() -> Iterator[str]:
    """A database at head on the PostgreSQL service, for one test module."""
    from mediaflow.db import migrate
    from mediaflow.db.session import dispose_engines

    if not service_reachable():
        pytest.skip("no PostgreSQL service on 127.0.0.1:5432")
    with scratch_database(SERVICE_URL) as url:
        migrate.upgrade("head", url)
        dispose_engines()
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
