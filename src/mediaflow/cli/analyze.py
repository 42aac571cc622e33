"""``mediaflow analyze``, ``mediaflow worker`` and ``mediaflow providers``."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.cli.results import print_job_summary, print_json
from mediaflow.db.enums import ProcessingStage
from mediaflow.runtime import Runtime
from mediaflow.services import jobs

_STAGES = list(ProcessingStage)

ProvidersOption = Annotated[
    list[str] | None,
    typer.Option("--providers", "-p", help="Provider names, comma separated (default: all local)."),
]


def analyze(  # noqa: PLR0917 - Typer maps each parameter to an option
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursed).")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="A name for the job.")] = None,
    providers: ProvidersOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="Budget in USD for cloud providers (options.max_cost)."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With workers running: wait for the job.")
    ] = True,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Analyze again even where the same content was analyzed before."
        ),
    ] = False,
) -> None:
    """Ingest PATHS as one job and analyze every file.

    With `mediaflow worker` processes running on this database the files go to the
    queue; without, they are processed here, in this process.

    Exit status: 0 when no file failed, 3 when some failed, 4 when every file failed
    (1 or 64-78 for an error before any file was processed).
    """
    with cli_runtime() as runtime:
        # unknown or unavailable providers fail before anything is stored
        options: dict[str, object] = {}
        if force:
            options["force"] = True
        if max_cost is not None:
            options["max_cost"] = max_cost
        request = jobs.check_request(
            runtime, name=name, providers=providers, options=options or None
        )
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
                _exit_for(runtime, result.job_id, len(result.skipped))
            return
        _run_here(runtime, result.job_id, quiet)
        print_job_summary(runtime, result.job_id)
        _exit_for(runtime, result.job_id, len(result.skipped))


# Exit statuses of `mediaflow analyze` (README "Exit codes"): a script can tell a
# partly failed batch from a wholly failed one without reading the output.
EXIT_SOME_FAILED = 3
EXIT_ALL_FAILED = 4


def exit_status(total: int, failed: int) -> int:
    """0 when nothing failed, 3 when some files failed, 4 when all did."""
    if failed == 0:
        return 0
    return EXIT_ALL_FAILED if failed >= total else EXIT_SOME_FAILED


def _exit_for(runtime: Runtime, job_id: uuid.UUID, skipped: int) -> None:
    counts = jobs.get_job(runtime, job_id).counts
    # files refused at ingest (unreadable, not media) count as failed
    code = exit_status(counts.total + skipped, counts.failed + skipped)
    if code:
        raise typer.Exit(code)


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


def providers(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List every provider with its availability here."""
    table = Table("kind", "name", "accepts", "types", "model", "key", "available")
    with cli_runtime() as runtime:
        infos = runtime.providers.infos()
        if as_json:
            print_json([dataclasses.asdict(info) for info in infos])
            return
        for info in infos:
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
