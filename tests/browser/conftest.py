"""Fixtures of the browser tests: a real server, a real PostgreSQL, Debian's Chromium.

Chromium is driven with Playwright's sync API but never downloaded: the tests launch
``/usr/bin/chromium``, and skip (locally) or fail (when ``CI`` is set) without it.
Screenshots go to the test's ``tmp_path`` and are copied to ``test-output/browser/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaflow.runtime import Runtime
from tests.api.server import LiveServer, live_server
from tests.conftest import REPO_ROOT, data_dir_outside_pytest_tmp, make_runtime
from tests.pg import head_database, service_reachable

CHROMIUM = Path("/usr/bin/chromium")
# No internet here: without the background-networking flags Chromium floods refused
# connections (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = REPO_ROOT / "test-output" / "browser"


def _require(condition: bool, why: str) -> None:
    """Skip locally, fail in CI, when something the browser tests need is missing."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, for the whole session."""
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "the playwright package is not installed")
        raise
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page.

    Console output is printed when the test fails; an uncaught JS error or a Content
    Security Policy violation fails the test.
    """
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    messages: list[str] = []
    tab.on("console", lambda m: messages.append(f"console.{m.type}: {m.text}"))
    tab.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    yield tab
    context.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and messages:
        print("\n".join(["browser messages:", *messages]))
    broken = [m for m in messages if m.startswith("pageerror") or "Content Security Policy" in m]
    assert not broken, "the page raised errors:\n" + "\n".join(broken)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item (the page fixture prints console output)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def shoot(page: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """``shoot("name")``: a full-page PNG in tmp_path, copied to test-output/browser/."""
    test = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOT_DIR / f"{test}-{name}.png")
        return path

    return take


def _head_database() -> Iterator[str]:
    _require(service_reachable(), "no PostgreSQL service on 127.0.0.1:5432")
    with head_database() as url:
        yield url


@pytest.fixture(scope="module")
def web_db() -> Iterator[str]:
    """A database at head for one test module's open server."""
    yield from _head_database()


@pytest.fixture(scope="module")
def web_server(web_db: str) -> Iterator[LiveServer]:
    """An open ``mediaflow serve`` (loopback, no key) with its own worker."""
    with (
        data_dir_outside_pytest_tmp() as data_dir,
        live_server(database_url=web_db, data_dir=data_dir) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def secure_db() -> Iterator[str]:
    """A database at head for the key-requiring server."""
    yield from _head_database()


@pytest.fixture(scope="module")
def secure_data_dir() -> Iterator[Path]:
    """The key-requiring server's data dir (content store)."""
    with data_dir_outside_pytest_tmp() as path:
        yield path


@pytest.fixture(scope="module")
def secure_server(secure_db: str, secure_data_dir: Path) -> Iterator[LiveServer]:
    """A server that requires API keys, without a worker."""
    with live_server(
        database_url=secure_db, data_dir=secure_data_dir, args=("--require-key", "--workers", "0")
    ) as server:
        yield server


@pytest.fixture(scope="module")
def secure_runtime(secure_db: str, secure_data_dir: Path) -> Iterator[Runtime]:
    """A runtime on the key-requiring server's database and content store (seeding, keys)."""
    with make_runtime(secure_db, secure_data_dir) as runtime:
        yield runtime
