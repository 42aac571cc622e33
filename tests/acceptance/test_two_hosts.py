"""Two hosts: A runs the API, the S3 server and PostgreSQL access; B only a worker.

Built with scripts/two_hosts.sh: two network namespaces joined by a veth pair. B
reaches A's addresses and nothing else. A job uploaded to A's API is processed
entirely by B (which fetches the originals from A's S3 server); B's worker is
killed in the middle of a file and a worker started on A finishes the job, each
file exactly once. Skipped, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import media_factory as mf
from tests.acceptance.cli import REPO
from tests.conftest import data_dir_outside_pytest_tmp
from tests.fakes.s3_server import aws_env
from tests.migration.helpers import query
from tests.pg import SERVICE_URL, head_database, service_reachable

pytest.importorskip("moto.server", reason="moto[server] is not installed")

T = TypeVar("T")
SCRIPT = REPO / "scripts" / "two_hosts.sh"
PG_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"
CLONE_NEWNET = 0x40000000
BUCKET = "media"


def in_netns(ns: str, call: Callable[[], T]) -> T:
    """Run ``call`` on a thread that lives in network namespace ``ns`` (setns(2))."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {ns}")
        finally:
            os.close(fd)
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@dataclass
class Hosts:
    """The two namespaces, A's address, and where each keeps its files."""

    a: str
    b: str
    address_a: str
    database_url: str
    env: dict[str, str]
    data_a: Path
    data_b: Path
    procs: list[subprocess.Popen[str]]

    def start(
        self, ns: str, argv: list[str], env: dict[str, str], hostname: str | None = None
    ) -> subprocess.Popen[str]:
        """Start ``argv`` in namespace ``ns`` (own host name with ``hostname``)."""
        command = ["ip", "netns", "exec", ns]
        if hostname:  # a UTS namespace of its own: the worker reports this host name
            command += ["unshare", "--uts", "sh", "-c", f'hostname {hostname} && exec "$@"', "sh"]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAFLOW_", "AWS_"))}
        proc = subprocess.Popen(
            command + argv, env={**base, **env}, cwd=REPO, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def mediaflow_env(self, data_dir: Path) -> dict[str, str]:
        """Settings of a mediaflow process on either host: every address is A's."""
        return {**self.env, "MEDIAFLOW_DATA_DIR": str(data_dir)}

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call A's API from inside namespace A."""
        import httpx

        def call() -> Any:
            answer = httpx.request(
                method, f"http://{self.address_a}:8000{path}", timeout=30, **kwargs
            )
            answer.raise_for_status()
            return answer.json()

        return in_netns(self.a, call)


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "iproute2 (ip) and util-linux (unshare) are needed"
    if not service_reachable() or not Path(PG_SOCKET).exists():
        return f"the PostgreSQL service (127.0.0.1:5432 and {PG_SOCKET}) is needed"
    return None


def _wait(condition: Callable[[], bool], timeout: float, what: str, hosts: Hosts) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            dead = [p for p in hosts.procs if p.poll() is not None]
            logs = "\n---\n".join((p.stdout.read() if p.stdout else "") for p in dead)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.3)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    reason = _can_make_namespaces()
    if reason:
        pytest.skip(reason)
    name = f"mf{secrets.token_hex(3)}"
    subnet = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}"
    made = subprocess.run(["bash", str(SCRIPT), "up", name, subnet], capture_output=True, text=True)
    if made.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "down", name], capture_output=True)
        pytest.skip(f"cannot make network namespaces here: {made.stderr.strip()}")
    with ExitStack() as stack:
        stack.callback(subprocess.run, ["bash", str(SCRIPT), "down", name], capture_output=True)
        db = stack.enter_context(head_database(SERVICE_URL))
        data_a = stack.enter_context(data_dir_outside_pytest_tmp())
        data_b = stack.enter_context(data_dir_outside_pytest_tmp())
        address = f"{subnet}.1"
        database = db.rsplit("/", 1)[1]
        env = {
            "MEDIAFLOW_DATABASE_URL": f"postgresql://postgres@{address}:5432/{database}",
            "MEDIAFLOW_STORAGE_URL": f"s3://{BUCKET}/originals",
            "MEDIAFLOW_STORAGE_ADDRESSING_STYLE": "path",
            "MEDIAFLOW_WORKER_HEARTBEAT_S": "0.5",
            "MEDIAFLOW_STALLED_AFTER_S": "3",
            **aws_env(f"http://{address}:9000"),
        }
        made_hosts = Hosts(f"{name}-a", f"{name}-b", address, db, env, data_a, data_b, [])

        def stop_all() -> None:
            for proc in made_hosts.procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)

        stack.callback(stop_all)
        py = sys.executable
        made_hosts.start(
            made_hosts.a, [py, "scripts/unix_forward.py", f"{address}:5432", PG_SOCKET], {}
        )
        made_hosts.start(
            made_hosts.a,
            [py, "-c", "from moto.server import main; main()", "-H", address, "-p", "9000"],
            {},
        )

        def make_bucket() -> None:
            import boto3

            boto3.client(
                "s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            ).create_bucket(Bucket=BUCKET)  # fmt: skip

        _wait(lambda: in_netns(made_hosts.a, make_bucket) is None, 60, "S3 on A", made_hosts)
        made_hosts.start(
            made_hosts.a,
            [py, "-m", "mediaflow", "serve", "--workers", "0", "--host", address,
             "--port", "8000", "--no-require-key"],
            made_hosts.mediaflow_env(data_a),
        )  # fmt: skip
        _wait(
            lambda: made_hosts.api("GET", "/healthz")["status"] == "ok", 90, "A's API", made_hosts
        )
        yield made_hosts


def _upload(hosts: Hosts, folder: Path, name: str) -> uuid.UUID:
    files = [
        ("files", (path.name, path.read_bytes(), "image/png")) for path in sorted(folder.iterdir())
    ]
    job = hosts.api("POST", "/jobs", files=files, data={"name": name, "providers": "rapidocr"})
    return uuid.UUID(job["id"])


def _images(folder: Path, count: int, word: str) -> Path:
    folder.mkdir()
    for i in range(count):
        mf.make_text_image(folder / f"{word}_{i:02d}.png", f"{word} {i}")
    return folder


def _job_status(hosts: Hosts, job_id: uuid.UUID) -> str:
    return str(hosts.api("GET", f"/jobs/{job_id}")["status"])


def _each_file_once(db: str, job_id: uuid.UUID, files: int) -> None:
    active = query(
        db,
        "SELECT m.id, m.status::text, count(r.id) FILTER (WHERE r.is_active) FROM media_file m "
        "LEFT JOIN analysis_result r ON r.media_file_id = m.id WHERE m.job_id = :j "
        "GROUP BY m.id, m.status",
        j=job_id,
    )
    assert len(active) == files
    assert all(status == "completed" and n == 1 for _, status, n in active), active
    succeeded = query(
        db,
        "SELECT count(*) FROM procrastinate_jobs j JOIN media_file m "
        "ON m.id = (j.args->>'media_file_id')::uuid WHERE m.job_id = :j AND j.status = 'succeeded'",
        j=job_id,
    )
    assert succeeded == [(files,)]


@pytest.mark.slow
def test_a_worker_on_another_host_processes_uploads_and_a_killed_one_is_finished_once(
    hosts: Hosts, tmp_path: Path
) -> None:
    py = sys.executable
    worker_b = hosts.start(
        hosts.b, [py, "-m", "mediaflow", "worker", "--concurrency", "1"],
        hosts.mediaflow_env(hosts.data_b), hostname="host-b",
    )  # fmt: skip

    # 1. a job uploaded to A is processed entirely by B
    first = _upload(hosts, _images(tmp_path / "first", 2, "ALPHA"), "first")
    _wait(lambda: _job_status(hosts, first) == "completed", 240, "the first job", hosts)
    _each_file_once(hosts.database_url, first, 2)
    workers = hosts.api("GET", "/workers")["items"]
    assert [(w["host"], w["pid"], w["alive"]) for w in workers] == [("host-b", worker_b.pid, True)]
    assert not (hosts.data_a / "originals").exists()  # A kept nothing locally: S3 has it
    cached = list((hosts.data_b / "cache" / "objects").iterdir())
    assert len(cached) == 2  # B fetched both originals from A's S3 server

    # 2. B is killed in the middle of a file; a worker on A finishes the job
    second = _upload(hosts, _images(tmp_path / "second", 6, "BRAVO"), "second")
    busy: dict[str, Any] = {}

    def b_is_mid_file() -> bool:
        for worker in hosts.api("GET", "/workers")["items"]:
            if worker["host"] == "host-b" and worker["current_files"]:
                busy.update(worker["current_files"][0])
                return True
        return False

    _wait(b_is_mid_file, 240, "B to start a file of the second job", hosts)
    worker_b.send_signal(signal.SIGKILL)
    worker_b.wait(10)
    victim = uuid.UUID(busy["media_file_id"])
    hosts.start(
        hosts.a, [py, "-m", "mediaflow", "worker", "--concurrency", "1"],
        hosts.mediaflow_env(hosts.data_a), hostname="host-a",
    )  # fmt: skip
    _wait(lambda: _job_status(hosts, second) == "completed", 240, "the second job", hosts)
    _each_file_once(hosts.database_url, second, 6)
    # the file B died on was started twice (B, then A) and completed once
    starts = query(
        hosts.database_url,
        "SELECT count(*) FROM processing_log WHERE media_file_id = :m AND stage = 'validation' "
        "AND status = 'started'",
        m=victim,
    )
    assert starts[0][0] >= 2
    hosts_now = {w["host"] for w in hosts.api("GET", "/workers")["items"] if w["alive"]}
    assert hosts_now == {"host-a"}
