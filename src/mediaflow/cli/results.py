"""``mediaflow jobs``, ``show`` and ``export``: reading what analysis produced."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table

from mediaflow.cli.output import console
from mediaflow.db.models import AnalysisJob, AnalysisResult, MediaFile, Transcription
from mediaflow.db.session import session_scope
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.export import FORMATS, export


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a job or media file id (a UUID)") from exc


def jobs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """List jobs, newest first, with their file counts."""
    table = Table("job", "name", "status", "files", "failed", "created")
    with session_scope() as session:
        rows = session.execute(
            sa.select(
                AnalysisJob,
                sa.func.count(MediaFile.id),
                sa.func.count(MediaFile.id).filter(MediaFile.status == "failed"),
            )
            .outerjoin(MediaFile)
            .group_by(AnalysisJob.id)
            .order_by(AnalysisJob.created_at.desc())
            .limit(limit)
        ).all()
        for job, files, failed in rows:
            table.add_row(
                str(job.id), job.name, job.status.value, str(files), str(failed),
                f"{job.created_at:%Y-%m-%d %H:%M:%S}",
            )  # fmt: skip
    console.print(table)


def print_job_summary(job_id: uuid.UUID) -> None:
    """The job's status, then per file: status, metadata, transcript and result types."""
    with session_scope() as session:
        job = session.get(AnalysisJob, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        console.print(
            f"job {job.id} [bold]{job.status.value}[/]: {job.name}"
            + (f" ({job.error})" if job.error else ""),
            highlight=False,
        )
        for media in job.media_files:
            _print_media(session, media)


def _print_media(session: sa.orm.Session, media: MediaFile) -> None:
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
    transcript = session.scalars(
        sa.select(Transcription).where(
            Transcription.media_file_id == media.id, Transcription.is_active
        )
    ).first()
    if transcript is not None:
        console.print(
            f"  transcript ({transcript.provider.value}, {transcript.language}): {transcript.text}",
            highlight=False,
        )
    results = session.scalars(
        sa.select(AnalysisResult)
        .where(AnalysisResult.media_file_id == media.id, AnalysisResult.is_active)
        .order_by(AnalysisResult.analysis_type)
    ).all()
    for result in results:
        console.print(
            f"  {result.analysis_type} ({result.provider.value}): {_brief(result)}", highlight=False
        )


def _brief(result: AnalysisResult) -> str:
    data = result.result
    match result.analysis_type:
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
    with session_scope() as session:
        if session.get(AnalysisJob, identifier) is None:
            media = session.get(MediaFile, identifier)
            if media is None:
                raise NotFound(f"no job or media file {identifier}")
            _print_media(session, media)
            return
    print_job_summary(identifier)


def export_cmd(
    media: Annotated[str, typer.Argument(help="A media file id.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Export one media file's transcript or results."""
    text = export(_uuid(media), fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}", highlight=False)
