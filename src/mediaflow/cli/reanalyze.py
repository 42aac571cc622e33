"""``mediaflow reanalyze``: re-run providers on one media file, here and now."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import InvalidInput
from mediaflow.services import media as media_service


def reanalyze(
    media_id: Annotated[str, typer.Argument(help="A media file id.")],
    providers: Annotated[
        list[str] | None,
        typer.Option(
            "--providers", "-p", help="Provider names, comma separated (default: the job's)."
        ),
    ] = None,
) -> None:
    """Re-run providers on one media file; old results stay, inactive."""
    try:
        media_file_id = uuid.UUID(media_id)
    except ValueError as exc:
        raise InvalidInput(f"{media_id!r} is not a media file id (a UUID)") from exc
    with cli_runtime() as runtime:
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
