"""``mediaflow speakers``: who speaks in a media file, and renaming them.

mediaflow speakers list MEDIA_ID                     speakers with their speaking time
mediaflow speakers rename MEDIA_ID "Speaker 2" Alice  per file; a taken name merges
mediaflow speakers find Alice                        files in which Alice speaks
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.services import speakers as speakers_service

app = typer.Typer(help="Speakers of a media file (from diarization): list, rename, find.")

MediaArg = Annotated[uuid.UUID, typer.Argument(help="The media file's id.")]


@app.command("list")
def list_cmd(media_id: MediaArg) -> None:
    """The file's speakers, with segments and seconds of speech."""
    with cli_runtime() as runtime:
        found = speakers_service.list_speakers(runtime, media_id)
    table = Table("speaker", "segments", "seconds", "first at")
    for speaker in found:
        table.add_row(speaker.name, str(speaker.segments), f"{speaker.seconds:.1f}",
                      f"{speaker.first_s:.1f}")  # fmt: skip
    console.print(table)


@app.command()
def rename(
    media_id: MediaArg,
    old: Annotated[str, typer.Argument(help="The speaker's name now (e.g. 'Speaker 2').")],
    new: Annotated[str, typer.Argument(help="The new name.")],
) -> None:
    """Rename one speaker of one file."""
    with cli_runtime() as runtime:
        found = speakers_service.rename_speaker(runtime, media_id, old, new)
    console.print(", ".join(s.name for s in found))


@app.command()
def find(name: Annotated[str, typer.Argument(help="A speaker's name.")]) -> None:
    """The media files in which a speaker of that name speaks."""
    with cli_runtime() as runtime:
        for media_id in speakers_service.media_with_speaker(runtime, name):
            console.print(str(media_id))
