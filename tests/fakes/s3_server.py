"""A real S3 protocol server on loopback (moto's ThreadedMotoServer) and a flaky proxy.

moto speaks S3's documented wire format over HTTP; the store under test reaches it
through boto3 exactly as it would reach AWS or MinIO (``AWS_ENDPOINT_URL``). The
proxy in front of it drops the first connections, to test the store's retries.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# fake credentials: moto accepts any unless its auth checks are switched on
ACCESS_KEY = "AKIAMEDIAFLOWTEST0001"
SECRET_KEY = "mediaflow-test-secret-" + secrets.token_hex(8)
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server: its endpoint URL, host and port."""

    endpoint: str
    host: str
    port: int

    def client(self):  # type: ignore[no-untyped-def]
        """A boto3 client of the server (to prepare buckets and objects beside the store)."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        )  # fmt: skip

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name and return the name."""
        name = f"mf-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def set_auth(self, enabled: bool) -> None:
        """Switch moto's credential checks on (unknown keys are refused) or off."""
        import httpx

        body = "0" if enabled else "inf"
        httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=body).raise_for_status()


@contextlib.contextmanager
def s3_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[S3Server]:
    """moto's S3 server on ``host`` (a free port unless given), stopped afterwards."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = moto_server.ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        _, bound_port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{bound_port}", host, bound_port)
    finally:
        server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    """The standard AWS settings that point boto3 at ``endpoint`` with the fake keys."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # nothing from the developer's own AWS setup
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def use_aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point this test's process at ``endpoint``: the developer's AWS_* settings out,
    ``aws_env``'s in (undone after the test)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)


class FlakyProxy:
    """A TCP proxy to ``target`` that closes the first ``drop`` connections at once."""

    def __init__(self, target: tuple[str, int], drop: int) -> None:
        self.target = target
        self.drop = drop
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._closed = False

    @property
    def endpoint(self) -> str:
        """The proxy's URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._listener.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                conn.close()  # a reset: what a restarting endpoint looks like
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
