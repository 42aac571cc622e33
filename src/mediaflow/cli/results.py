"""``mediaflow jobs``, ``show`` and ``export``: reading what analysis produced."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import NotFound
from mediaflow.runtime import Runtime
from mediaflow.services import jobs as job_service
from mediaflow.services import media as media_service
from mediaflow.services.export import FORMATS
from mediaflow.services.ids import resolve

JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]


def id_table(*columns: str) -> Table:
    """A table whose first column holds whole ids: never cut, whatever the terminal width."""
    table = Table()
    table.add_column(columns[0], no_wrap=True, min_width=36)
    for column in columns[1:]:
        table.add_column(column, overflow="fold")
    return table


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (no colour, no wrapping)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def jobs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first, with their file counts."""
    table = id_table("job", "name", "status", "files", "failed", "created")
    with cli_runtime() as runtime:
        page = job_service.list_jobs(runtime, limit=limit)
    if as_json:
        print_json([job.model_dump(mode="json") for job in page.items])
        return
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
    for warning in _warnings(media.streams):
        console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
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
            return f"{_lufs(data)}, {len(data.get('silences', []))} silence(s)"
        case "perceptual_hash":
            return f"phash {data.get('phash')}"
        case "colors":
            return ", ".join(c["hex"] for c in data.get("colors", [])[:5])
    return ", ".join(sorted(data))[:80]


def _lufs(data: dict[str, Any]) -> str:
    lufs = data.get("integrated_lufs")
    if lufs is not None:
        return f"{lufs} LUFS"
    if data.get("loudness_too_short") or (data.get("duration_s") or 0) < 0.4:
        return "loudness: too short (under 0.4 s)"
    return "loudness: silent"


def _warnings(streams: list[dict[str, Any]] | None) -> list[str]:
    """Damage recorded while decoding, one line per stream."""
    lines = []
    for stream in streams or []:
        damage = stream.get("damage")
        if isinstance(damage, dict) and damage.get("bad_packets"):
            lines.append(
                f"{damage['bad_packets']} of {damage.get('packets')} {stream.get('codec')} "
                f"{stream.get('type')} packets undecodable (at {damage.get('bad_at_s')})"
            )
    return lines


def show(
    target: Annotated[str, typer.Argument(help="A job or media file id, or a unique prefix.")],
    as_json: JsonOption = False,
) -> None:
    """Show a job (all its files) or one media file."""
    with cli_runtime() as runtime:
        found = resolve(runtime, target)
        if as_json:
            print_json(_document(runtime, found.kind, found.id))
        elif found.kind == "job":
            print_job_summary(runtime, found.id)
        else:
            _print_media(runtime, found.id)


def _document(runtime: Runtime, kind: str, identifier: uuid.UUID) -> dict[str, Any]:
    if kind == "job":
        job = job_service.get_job(runtime, identifier)
        return {
            "job": job.model_dump(mode="json"),
            "files": [media_service.media_document(runtime, f.id) for f in job.files],
        }
    return media_service.media_document(runtime, identifier)


def export_cmd(
    media: Annotated[str, typer.Argument(help="A media file id, or a unique prefix.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Export one media file's transcript or results."""
    with cli_runtime() as runtime:
        text = media_service.export(runtime, resolve(runtime, media, ("media",)).id, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}", highlight=False)


__all__ = ["export_cmd", "id_table", "jobs", "print_job_summary", "print_json", "show"]
