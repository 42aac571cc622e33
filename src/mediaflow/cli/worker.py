"""``mediaflow worker``: process queued files on this machine until stopped."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Annotated

import typer

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import InvalidInput
from mediaflow.pipeline.worker import run_worker
from mediaflow.queue import ALL_QUEUES


def parse_queues(value: str) -> list[str]:
    """``video`` or ``a,b``: the queues a worker takes tasks from (known names only)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_QUEUES]
    if not names or unknown:
        raise InvalidInput(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}",
            hint=f"known: {', '.join(ALL_QUEUES)}",
        )
    return names


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Files processed at once.")
    ] = 1,
    queues: Annotated[
        str,
        typer.Option(
            "--queues",
            "-q",
            help="Comma-separated queues to take tasks from: video, audio, image (files of "
            "that kind) and media (kind unknown before probing). Default: all.",
        ),
    ] = ",".join(ALL_QUEUES),
    drain_timeout: Annotated[
        float | None,
        typer.Option(
            "--drain-timeout",
            min=0,
            help="On SIGTERM, finish running files this many seconds at most, then hand "
            "them back (default: MEDIAFLOW_WORKER_DRAIN_TIMEOUT_S, unset: wait for them).",
        ),
    ] = None,
) -> None:
    """Process queued files until stopped (SIGTERM/Ctrl-C drains: running files finish)."""
    names = parse_queues(queues)
    with cli_runtime() as runtime:
        # fail fast, in one line, before any task is taken: store and database reachable
        runtime.store.check()
        runtime.queue.active_workers(runtime.settings.stalled_after_s)
        timeout = drain_timeout
        if timeout is None:
            timeout = runtime.settings.worker_drain_timeout_s
        console.print(
            f"worker {socket.gethostname()}:{os.getpid()} started (queues {','.join(names)}, "
            f"concurrency {concurrency}, store {runtime.store.describe()})",
            highlight=False,
        )
        asyncio.run(run_worker(runtime, concurrency, queues=names, drain_timeout_s=timeout))
