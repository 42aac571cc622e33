"""``mediaflow search``: moments of speech, on-screen text and labels, from the command line.

mediaflow search "fixing a car"                 words and meaning (hybrid)
mediaflow search '"quick brown" -fox' --mode lexical
mediaflow search --contains '{"flagged": true}'
mediaflow search reindex [--what lexical|semantic|all]
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console, err_console
from mediaflow.db.enums import MediaFileStatus, MediaType
from mediaflow.errors import InvalidInput
from mediaflow.services import search as search_service


class _QueryByDefault(TyperGroup):
    """``mediaflow search WORDS`` runs the query command; ``mediaflow search reindex`` the other.

    A group's own positional argument would swallow the subcommand's name, so anything
    that is not a subcommand goes to the hidden ``query`` command instead.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Anything but a subcommand's name is the query command's (options included)."""
        if not args or args[0] not in self.commands:
            args = ["query", *args]
        parsed: list[str] = super().parse_args(ctx, args)
        return parsed


app = typer.Typer(
    cls=_QueryByDefault,
    help="Search moments (speech, on-screen text, labels) by words and meaning.\n\n"
    "`mediaflow search WORDS [options]`; `mediaflow search reindex` rebuilds the index.",
    no_args_is_help=False,
)


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
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
        raise InvalidInput(f"--contains is not valid JSON: {reason}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("--contains must be a JSON object", hint='e.g. {"words": ["invoice"]}')
    return parsed


def _marked(snippet: str, spans: list[tuple[int, int]]) -> Text:
    text = Text(snippet)
    for start, end in spans:
        text.stylize("bold yellow", start, end)
    return text


@app.command(name="query", hidden=True)
def search(  # noqa: PLR0917 - Typer maps each parameter to an option
    query: Annotated[
        str | None,
        typer.Argument(help='Words, "a phrase", -excluded, a or b (web-search syntax).'),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="hybrid (words + meaning), lexical or semantic.")
    ] = "hybrid",
    word: Annotated[
        str | None, typer.Option("--word", "-w", help="An exact word that OCR read.")
    ] = None,
    contains: Annotated[
        str | None,
        typer.Option("--contains", "-c", help='JSON the result contains, e.g. {"flagged": true}.'),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="speech, text, label or result.")
    ] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    analysis_type: Annotated[
        str | None, typer.Option("--type", "-t", help="Only this analysis type (or transcription).")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="Media file status.")] = None,
    media_type: Annotated[
        str | None, typer.Option("--media-type", help="video, audio or image.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Files created at or after (ISO date).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Files created before (ISO date).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many hits.")] = 20,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many hits (paging).")] = 0,
    group: Annotated[
        bool, typer.Option("--group", help="The best moment of each media file only.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Search moments (speech, on-screen text, labels) by words and meaning.

    `mediaflow search reindex [--what lexical|semantic|all]` rebuilds the index.
    """
    if mode not in ("hybrid", "lexical", "semantic"):
        raise InvalidInput(f"unknown mode {mode!r}", hint="hybrid, lexical or semantic")
    with cli_runtime() as runtime:
        results = search_service.search(
            query,
            runtime=runtime,
            mode=mode,  # type: ignore[arg-type]  # checked above
            contains=_contains(contains),
            word=word,
            kind=kind,  # type: ignore[arg-type]  # run_search checks it
            provider=provider,
            analysis_type=analysis_type,
            status=MediaFileStatus(status) if status in set(MediaFileStatus) else status,
            media_type=MediaType(media_type) if media_type in set(MediaType) else media_type,
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            limit=limit,
            offset=offset,
            group=group,
        )
    if as_json:
        for hit in results:
            typer.echo(json.dumps(hit.to_dict()))
        for note in results.notes:
            err_console.print(f"note: {note}", highlight=False)
        if results.suggestion:
            err_console.print(f"suggestion: {results.suggestion}", highlight=False)
        return
    for note in results.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    if results.suggestion:
        shown = "showing results for" if results.corrected else "did you mean"
        console.print(f"{shown} [bold]{results.suggestion}[/]", highlight=False)
    if not results.hits:
        console.print("no matches", highlight=False)
        return
    table = Table("file", "time", "kind", "provider", "score", "match")
    table.add_column("media file", no_wrap=True, min_width=36)  # ids stay whole
    for hit in results:
        table.add_row(
            hit.original_name, _clock(hit.start_s), hit.kind, hit.provider,
            f"{hit.score:.3f}", _marked(hit.snippet, hit.highlights), str(hit.media_file_id),
        )  # fmt: skip
    console.print(table)
    if results.next_offset is not None:
        console.print(f"[dim]more: --offset {results.next_offset}[/]", highlight=False)


@app.command()
def reindex(
    what: Annotated[
        str, typer.Option("--what", help="lexical (words), semantic (embeddings) or all.")
    ] = "all",
) -> None:
    """Bring the search index up to the stored transcripts and results (resumable).

    Ctrl-C stops after the batch in hand; running it again carries on from there.
    """
    if what not in ("lexical", "semantic", "all"):
        raise InvalidInput(f"unknown --what {what!r}", hint="lexical, semantic or all")
    stop = threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        with (
            cli_runtime() as runtime,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            tasks: dict[str, Any] = {}

            def on_progress(phase: str, done: int, total: int | None) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(phase, total=total)
                progress.update(tasks[phase], completed=done, total=total)

            report = search_service.reindex(
                runtime.db,
                runtime.embedder,
                what=what,  # type: ignore[arg-type]  # checked above
                progress=on_progress,
                should_stop=stop.is_set,
                min_confidence=runtime.settings.search_min_confidence,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    rate = f" ({report.moments_per_s:.0f} moments/s)" if report.moments_per_s else ""
    console.print(
        f"indexed {report.moments} moment(s) of {report.sources} source(s){rate}, "
        f"removed {report.removed} stale",
        highlight=False,
    )
    if report.embedded or report.semantic_seconds:
        per_s = f" ({report.embeddings_per_s:.0f}/s)" if report.embeddings_per_s else ""
        console.print(f"embedded {report.embedded} moment(s){per_s}", highlight=False)
    if report.stopped:
        console.print("stopped: run it again to carry on", highlight=False)
        raise typer.Exit(130)
