"""``mediaflow analyze`` and ``mediaflow providers``."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaflow.cli.output import console
from mediaflow.cli.results import print_job_summary
from mediaflow.config import get_settings
from mediaflow.db.enums import ProcessingStage
from mediaflow.ingest import ingest
from mediaflow.pipeline import tasks as queue
from mediaflow.pipeline.runner import files_finished, run_job, select_providers
from mediaflow.providers import registry
from mediaflow.storage import default_store

_STAGES = list(ProcessingStage)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursed).")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="A name for the job.")] = None,
    providers: Annotated[
        list[str] | None,
        typer.Option(
            "--providers", "-p", help="Provider names, comma separated (default: all local)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With workers running: wait for the job.")
    ] = True,
) -> None:
    """Ingest PATHS as one job and analyze every file.

    With `mediaflow worker` processes running on this database the files go to the
    queue; without, they are processed here, in this process.
    """
    names = _split(providers)
    selection = select_providers(names)  # unknown names fail before anything is stored
    settings = get_settings()
    store = default_store(settings)
    result = ingest(paths, name=name, providers=selection.names, options=None, store=store)
    for skipped, reason in result.skipped:
        console.print(f"[yellow]skipped[/] {skipped}: {reason}", highlight=False)
    console.print(f"job {result.job_id}: {len(result.media_file_ids)} file(s)", highlight=False)
    if queue.active_workers():
        queued = queue.enqueue_job(result.job_id)
        console.print(f"{queued} file(s) queued for the running workers", highlight=False)
        if wait:
            _wait_for(result.job_id, queued, quiet)
            print_job_summary(result.job_id)
        return

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        tasks: dict[uuid.UUID, TaskID] = {}

        def on_progress(media_file_id: uuid.UUID, file_name: str, stage: ProcessingStage) -> None:
            if media_file_id not in tasks:
                tasks[media_file_id] = progress.add_task(
                    file_name[-40:], total=len(_STAGES), stage=""
                )
            progress.update(
                tasks[media_file_id], completed=_STAGES.index(stage) + 1, stage=stage.value
            )

        run_job(result.job_id, store=store, on_progress=on_progress)
    print_job_summary(result.job_id)


def _wait_for(job_id: uuid.UUID, total: int, quiet: bool) -> None:
    with Progress(console=console, disable=quiet) as progress:
        task = progress.add_task("files done", total=total)
        while True:
            done = files_finished(job_id)
            progress.update(task, completed=done)
            if done >= total:
                return
            time.sleep(0.5)


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Files processed at once.")
    ] = 1,
) -> None:
    """Process queued files until stopped (Ctrl-C finishes the current files first)."""
    console.print(f"worker started (concurrency {concurrency})", highlight=False)
    asyncio.run(queue.run_worker(concurrency))


def providers() -> None:
    """List every provider with its availability here."""
    table = Table("kind", "name", "accepts", "types", "key", "available")
    for info in registry.list_providers():
        table.add_row(
            info.kind, info.name, ", ".join(sorted(info.accepts)),
            ", ".join(info.analysis_types) or "-", "yes" if info.needs_key else "no",
            "yes" if info.available else f"no: {info.reason}",
        )  # fmt: skip
    console.print(table)
