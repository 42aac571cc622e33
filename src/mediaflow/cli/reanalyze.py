"""``mediaflow reanalyze``: re-run providers on one media file, here and now."""

from __future__ import annotations

from typing import Annotated

import typer

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.services import media as media_service
from mediaflow.services.ids import resolve


def reanalyze(
    media_id: Annotated[str, typer.Argument(help="A media file id, or a unique prefix.")],
    providers: Annotated[
        list[str] | None,
        typer.Option(
            "--providers", "-p", help="Provider names, comma separated (default: the job's)."
        ),
    ] = None,
) -> None:
    """Re-run providers on one media file; old results stay, inactive."""
    with cli_runtime() as runtime:
        media_file_id = resolve(runtime, media_id, ("media",)).id
        outcome = media_service.reanalyze(runtime, media_file_id, providers, queue=False)
    assert outcome is not None  # queue=False processes here and returns the outcome
    console.print(
        f"media file {outcome.media_file_id} {outcome.status.value}: "
        f"{outcome.transcriptions} transcript(s), {outcome.results} result(s)",
        highlight=False,
    )
    for failure in outcome.provider_failures:
        console.print(f"  [yellow]provider failed[/] {failure}", highlight=False)
    if outcome.error and not outcome.provider_failures:
        console.print(f"  error: {outcome.error}", highlight=False)
