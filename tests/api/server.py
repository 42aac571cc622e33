"""A real ``mediaflow serve`` in a subprocess, on a free loopback port, for HTTP tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    """A running server: where it listens, its database and data dir, its log."""

    base_url: str
    database_url: str | None
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def client(self, key: str | None = None, timeout: float = 30) -> httpx.Client:
        """An HTTP client for this server (with ``Authorization: Bearer key`` if given)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    *,
    database_url: str | None,
    data_dir: Path,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    startup_timeout: float = 90,
) -> Iterator[LiveServer]:
    """Start ``mediaflow serve`` and stop it (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    full_env = {**base, "MEDIAFLOW_DATA_DIR": str(data_dir), **(env or {})}
    if database_url:
        full_env["MEDIAFLOW_DATABASE_URL"] = database_url
    log_path = data_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mediaflow", "serve", "--host", "127.0.0.1",
             "--port", str(port), *args],
            env=full_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", database_url, data_dir, log_path, process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mediaflow serve exited {process.returncode}:\n{server.log()}")
            try:
                httpx.get(f"{server.base_url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mediaflow serve did not start:\n{server.log()}") from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
