"""``mediaflow reanalyze``: re-run providers on one media file."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from mediaflow.cli.output import console
from mediaflow.config import get_settings
from mediaflow.errors import InvalidInput
from mediaflow.pipeline.reanalyze import reanalyze as run_reanalyze
from mediaflow.storage import default_store


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
    names = [n.strip() for value in providers or [] for n in value.split(",") if n.strip()]
    outcome = run_reanalyze(media_file_id, names or None, store=default_store(get_settings()))
    console.print(
        f"media file {outcome.media_file_id} {outcome.status.value}: "
        f"{outcome.transcriptions} transcript(s), {outcome.results} result(s)",
        highlight=False,
    )
    for failure in outcome.provider_failures:
        console.print(f"  [yellow]provider failed[/] {failure}", highlight=False)
    if outcome.error and not outcome.provider_failures:
        console.print(f"  error: {outcome.error}", highlight=False)
