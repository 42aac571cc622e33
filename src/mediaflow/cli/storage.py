"""``mediaflow storage``: check the configured store, copy it to another one."""

from __future__ import annotations

from typing import Annotated

import typer

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console, fail
from mediaflow.errors import IntegrityError
from mediaflow.services import storage as storage_service

app = typer.Typer(help="Where originals and thumbnails are kept.", no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Reach the configured store (MEDIAFLOW_STORAGE_URL) and say which it is."""
    with cli_runtime() as runtime:
        described = storage_service.check_store(runtime)
    console.print(f"ok: {described}", highlight=False)


@app.command("migrate")
def migrate(
    to: Annotated[
        str, typer.Option("--to", help="Destination: s3://bucket/prefix or file:///path.")
    ],
    source: Annotated[
        str | None,
        typer.Option("--from", help="Source store (default: the configured one)."),
    ] = None,
    verify_existing: Annotated[
        bool,
        typer.Option(help="Re-hash objects already at the destination (default: same size)."),
    ] = False,
) -> None:
    """Copy every object to another store, hash-verified; run again to resume."""
    with cli_runtime() as runtime:

        def show(key: str, outcome: str) -> None:
            if outcome != "skipped":
                console.print(f"{outcome:8} {key}", highlight=False)

        report = storage_service.migrate(
            runtime, to, from_url=source, verify_existing=verify_existing, on_object=show
        )
    console.print(
        f"{report.copied} copied ({report.bytes_copied} bytes), {report.skipped} already there, "
        f"{len(report.failed)} refused: {report.source} -> {report.destination}",
        highlight=False,
    )
    for key, reason in report.failed:
        fail(f"{key}: {reason}")
    if report.failed:
        raise typer.Exit(IntegrityError.exit_code)
