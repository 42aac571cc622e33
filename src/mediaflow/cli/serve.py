"""``mediaflow serve`` (the REST API and web page) and ``mediaflow keys`` (its API keys)."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.config import get_settings
from mediaflow.runtime import Runtime
from mediaflow.services import keys


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings, 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=0, help="Files processed at once inside the server (0: none)."
        ),
    ] = 1,
    require_key: Annotated[
        bool | None,
        typer.Option(
            "--require-key/--no-require-key",
            help="Require API keys (default: unless bound to loopback only).",
        ),
    ] = None,
    http_workers: Annotated[
        int | None,
        typer.Option(
            "--http-workers",
            min=1,
            help="HTTP processes (default: settings, 1); above 1, queue work runs in its own "
            "process with --workers files at once.",
        ),
    ] = None,
) -> None:
    """Serve the REST API (/docs) and the web page (/)."""
    import uvicorn

    from mediaflow.api.app import create_app

    settings = get_settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    if require_key is None:
        require_key = settings.require_api_key
    if require_key is None:
        require_key = not is_loopback(host)
    runtime = Runtime(settings)
    runtime.store.check()  # fail fast, in one line: a misconfigured store never waits for a job
    keys_note = "API keys required" if require_key else "no API key needed"
    http_workers = http_workers or settings.api_http_workers
    if http_workers > 1:
        from mediaflow.cli.serve_processes import serve_processes

        console.print(
            f"mediaflow on http://{host}:{port} ({keys_note}; {http_workers} HTTP processes)",
            highlight=False,
        )
        serve_processes(
            settings, host=host, port=port, http_workers=http_workers,
            queue_concurrency=workers, require_key=require_key,
        )  # fmt: skip
        return
    app = create_app(runtime, require_key=require_key, worker_concurrency=workers)
    console.print(f"mediaflow on http://{host}:{port} ({keys_note})", highlight=False)
    try:
        # uvicorn handles SIGTERM/SIGINT: it stops listening, then runs the app's
        # bounded shutdown (api.lifecycle), then raises the signal again
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    finally:
        worker = getattr(app.state, "worker", None)
        if worker is not None and worker.abandoned:
            # threads still run abandoned files and the interpreter would wait for
            # them at exit; their tasks go back to the queue once our heartbeat is gone
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


keys_app = typer.Typer(help="API keys of `mediaflow serve`.", no_args_is_help=True)


@keys_app.command("create")
def create(name: Annotated[str, typer.Argument(help="Who or what uses the key.")]) -> None:
    """Create a key and print it (it is shown only this once)."""
    with cli_runtime() as runtime:
        info, token = keys.create_key(runtime, name)
    console.print(token, highlight=False, soft_wrap=True)
    console.print(f"key {info.prefix}… ({info.name}) created; store it now", style="dim")


@keys_app.command("list")
def list_cmd() -> None:
    """List keys (prefix, name, dates); the keys themselves are not stored."""
    table = Table("id", "prefix", "name", "created", "last used", "revoked")
    with cli_runtime() as runtime:
        infos = keys.list_keys(runtime)
    for info in infos:
        table.add_row(
            str(info.id), info.prefix, info.name, f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "-",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "-",
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke(ident: Annotated[str, typer.Argument(help="The key's id or prefix.")]) -> None:
    """Revoke a key: every request with it is refused from now on."""
    with cli_runtime() as runtime:
        info = keys.revoke_key(runtime, ident)
    console.print(f"key {info.prefix}… ({info.name}) revoked", highlight=False)
