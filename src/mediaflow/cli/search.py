"""``mediaflow search``: transcript text and result JSON, from the command line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import InvalidInput
from mediaflow.services.search import search as run_search


def _clock(seconds: float | None) -> str:
    """``mm:ss.s`` (minutes may exceed 59 for long media)."""
    if seconds is None:
        return ""
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{option} {value!r} is not a date", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from exc


def _contains(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--contains is not valid JSON: {exc.msg} (at {exc.pos})") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput("--contains must be a JSON object", hint='e.g. {"words": ["invoice"]}')
    return parsed


def search(  # noqa: PLR0917 - Typer maps each parameter to an option
    query: Annotated[str | None, typer.Argument(help="Text to find in transcripts.")] = None,
    word: Annotated[
        str | None, typer.Option("--word", "-w", help="A word that OCR read (any case).")
    ] = None,
    contains: Annotated[
        str | None,
        typer.Option("--contains", "-c", help='JSON the result contains, e.g. {"flagged": true}.'),
    ] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    analysis_type: Annotated[
        str | None, typer.Option("--type", "-t", help="Only this analysis type (or transcription).")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="Media file status.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Files created at or after (ISO date).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Files created before (ISO date).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many hits.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Search transcripts (fuzzy) and analysis results (JSON containment)."""
    with cli_runtime() as runtime:
        hits = run_search(
            runtime,
            query,
            contains=_contains(contains),
            word=word,
            provider=provider,
            analysis_type=analysis_type,
            status=status,
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            limit=limit,
        )
    if as_json:
        for hit in hits:
            typer.echo(json.dumps(hit.to_dict()))
        return
    if not hits:
        console.print("no matches", highlight=False)
        return
    table = Table("file", "time", "provider", "type", "score", "match", "media file")
    for hit in hits:
        table.add_row(
            hit.original_name, _clock(hit.start_s), hit.provider, hit.analysis_type,
            f"{hit.score:.2f}", hit.snippet, str(hit.media_file_id),
        )  # fmt: skip
    console.print(table)
