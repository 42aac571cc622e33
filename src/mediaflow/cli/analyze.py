"""``mediaflow analyze``, ``mediaflow worker`` and ``mediaflow providers``."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.cli.results import print_job_summary
from mediaflow.db.enums import ProcessingStage
from mediaflow.pipeline.worker import run_worker
from mediaflow.runtime import Runtime
from mediaflow.services import jobs

_STAGES = list(ProcessingStage)

ProvidersOption = Annotated[
    list[str] | None,
    typer.Option("--providers", "-p", help="Provider names, comma separated (default: all local)."),
]


def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursed).")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="A name for the job.")] = None,
    providers: ProvidersOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With workers running: wait for the job.")
    ] = True,
) -> None:
    """Ingest PATHS as one job and analyze every file.

    With `mediaflow worker` processes running on this database the files go to the
    queue; without, they are processed here, in this process.
    """
    with cli_runtime() as runtime:
        # unknown or unavailable providers fail before anything is stored
        request = jobs.check_request(runtime, name=name, providers=providers)
        result = jobs.create_job(runtime, request, paths)
        for skipped, reason in result.skipped:
            console.print(f"[yellow]skipped[/] {skipped}: {reason}", highlight=False)
        console.print(f"job {result.job_id}: {len(result.media_file_ids)} file(s)", highlight=False)
        if runtime.queue.active_workers(runtime.settings.stalled_after_s):
            queued = jobs.queue_job(runtime, result.job_id)
            console.print(f"{queued} file(s) queued for the running workers", highlight=False)
            if wait:
                _wait_for(runtime, result.job_id, queued, quiet)
                print_job_summary(runtime, result.job_id)
            return
        _run_here(runtime, result.job_id, quiet)
        print_job_summary(runtime, result.job_id)


def _run_here(runtime: Runtime, job_id: uuid.UUID, quiet: bool) -> None:
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

        jobs.run_here(runtime, job_id, on_progress=on_progress)


def _wait_for(runtime: Runtime, job_id: uuid.UUID, total: int, quiet: bool) -> None:
    with Progress(console=console, disable=quiet) as progress:
        task = progress.add_task("files done", total=total)
        while True:
            done = jobs.files_finished(runtime, job_id)
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
    with cli_runtime() as runtime:
        console.print(f"worker started (concurrency {concurrency})", highlight=False)
        asyncio.run(run_worker(runtime, concurrency))


def providers() -> None:
    """List every provider with its availability here."""
    table = Table("kind", "name", "accepts", "types", "model", "key", "available")
    with cli_runtime() as runtime:
        for info in runtime.providers.infos():
            table.add_row(
                info.kind, info.name, ", ".join(sorted(info.accepts)),
                ", ".join(info.analysis_types) or "-", info.model or "-",
                "yes" if info.needs_key else "no",
                "yes" if info.available else f"no: {info.reason}",
            )  # fmt: skip
    console.print(table)
    from mediaflow.providers.speakers import diarization_available, diarization_model

    reason = diarization_available()
    console.print(
        f"diarization (transcripts): {diarization_model()}: "
        + ("available" if reason is None else f"unavailable: {reason}")
    )
