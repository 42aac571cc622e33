"""``mediaflow jobs``, ``show`` and ``export``: reading what analysis produced."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.runtime import Runtime
from mediaflow.services import jobs as job_service
from mediaflow.services import media as media_service
from mediaflow.services.export import FORMATS


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a job or media file id (a UUID)") from exc


def jobs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """List jobs, newest first, with their file counts."""
    table = Table("job", "name", "status", "files", "failed", "created")
    with cli_runtime() as runtime:
        page = job_service.list_jobs(runtime, limit=limit)
    for job in page.items:
        table.add_row(
            str(job.id), job.name, job.status.value, str(job.counts.total),
            str(job.counts.failed), f"{job.created_at:%Y-%m-%d %H:%M:%S}",
        )  # fmt: skip
    console.print(table)


def print_job_summary(runtime: Runtime, job_id: uuid.UUID) -> None:
    """The job's status, then per file: status, metadata, transcript and result types."""
    job = job_service.get_job(runtime, job_id)
    console.print(
        f"job {job.id} [bold]{job.status.value}[/]: {job.name}"
        + (f" ({job.error})" if job.error else ""),
        highlight=False,
    )
    for file in job.files:
        _print_media(runtime, file.id)


def _print_media(runtime: Runtime, media_id: uuid.UUID) -> None:
    media = media_service.get_media(runtime, media_id)
    media_type = media.media_type.value if media.media_type else "?"
    kind = f"{media_type}/{media.file_type.value if media.file_type else '?'}"
    size = f"{media.width}x{media.height}" if media.width else ""
    duration = f"{media.duration_s:.2f}s" if media.duration_s else ""
    console.print(
        f"\n[bold]{media.original_name}[/] {media.id} {media.status.value} "
        f"{kind} {size} {duration}",
        highlight=False,
    )
    if media.error:
        console.print(f"  error: {media.error}", highlight=False)
    try:
        transcript = media_service.get_transcription(runtime, media_id)
    except NotFound:
        transcript = None
    if transcript is not None:
        console.print(
            f"  transcript ({transcript.provider.value}, {transcript.language}): {transcript.text}",
            highlight=False,
        )
    for result in media_service.list_results(runtime, media_id):
        console.print(
            f"  {result.analysis_type} ({result.provider.value}): "
            f"{_brief(result.analysis_type, result.result)}",
            highlight=False,
        )


def _brief(analysis_type: str, data: dict[str, Any]) -> str:
    match analysis_type:
        case "ocr":
            return repr(data.get("text", "")[:80])
        case "faces":
            return f"{data.get('count', 0)} face(s)"
        case "moderation":
            return f"max nsfw score {data.get('max_nsfw_score')}, flagged={data.get('flagged')}"
        case "scenes":
            return f"{len(data.get('scenes', []))} scene(s), cuts at {data.get('cuts', [])}"
        case "audio_levels":
            return f"{data.get('integrated_lufs')} LUFS, {len(data.get('silences', []))} silence(s)"
        case "perceptual_hash":
            return f"phash {data.get('phash')}"
        case "colors":
            return ", ".join(c["hex"] for c in data.get("colors", [])[:5])
    return ", ".join(sorted(data))[:80]


def show(target: Annotated[str, typer.Argument(help="A job id or a media file id.")]) -> None:
    """Show a job (all its files) or one media file."""
    identifier = _uuid(target)
    with cli_runtime() as runtime:
        try:
            print_job_summary(runtime, identifier)
            return
        except NotFound:
            pass
        try:
            _print_media(runtime, identifier)
        except NotFound:
            raise NotFound(f"no job or media file {identifier}") from None


def export_cmd(
    media: Annotated[str, typer.Argument(help="A media file id.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Export one media file's transcript or results."""
    with cli_runtime() as runtime:
        text = media_service.export(runtime, _uuid(media), fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}", highlight=False)


__all__ = ["export_cmd", "jobs", "print_job_summary", "show"]
