"""``mediaflow people``: who appears in the library, by face.

mediaflow people list                      every person (named first)
mediaflow people show Alice                a person's appearances (every moment seen)
mediaflow people name 3f2a9c1e Alice       name a person (id, id prefix shown by list)
mediaflow people merge Alice 7d41b0aa      the second person's faces become Alice's
mediaflow people recluster                 group every face of the library again
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.services import people as people_service

app = typer.Typer(help="People found by their faces: list, show, name, merge, re-cluster.")

PersonArg = Annotated[str, typer.Argument(help="A person's id, id prefix or name.")]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


@app.command("list")
def list_cmd(
    named: Annotated[bool, typer.Option(help="Only people with a name.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Every person with their face and file counts."""
    with cli_runtime() as runtime:
        found = people_service.list_people(runtime, named_only=named)
    if as_json:
        console.print_json(json.dumps([p.model_dump(mode="json") for p in found]))
        return
    table = Table("id", "name", "faces", "files")
    for person in found:
        table.add_row(str(person.id)[:8], person.label, str(person.face_count),
                      str(person.media_count))  # fmt: skip
    console.print(table)


@app.command()
def show(
    person: PersonArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Every moment a person appears, file by file."""
    with cli_runtime() as runtime:
        detail = people_service.get_person(runtime, person)
    if as_json:
        console.print_json(detail.model_dump_json())
        return
    console.print(f"{detail.label} ({detail.id}): {detail.face_count} faces in "
                  f"{detail.media_count} files")  # fmt: skip
    table = Table("file", "media id", "from", "to", "faces")
    for seen in detail.appearances:
        table.add_row(seen.original_name, str(seen.media_file_id)[:8], _clock(seen.start_s),
                      _clock(seen.end_s), str(seen.faces))  # fmt: skip
    console.print(table)


@app.command()
def name(person: PersonArg, new_name: Annotated[str, typer.Argument(help="The name.")]) -> None:
    """Name (or rename) a person."""
    with cli_runtime() as runtime:
        named = people_service.rename(runtime, person, new_name)
    console.print(f"{str(named.id)[:8]} is now {named.label}")


@app.command()
def merge(
    keep: Annotated[str, typer.Argument(help="The person who stays (id, prefix or name).")],
    other: Annotated[str, typer.Argument(help="The person whose faces move to KEEP.")],
) -> None:
    """Merge two people who are one: OTHER's faces become KEEP's."""
    with cli_runtime() as runtime:
        merged = people_service.merge(runtime, keep, other)
    console.print(f"{merged.label}: {merged.face_count} faces in {merged.media_count} files")


@app.command()
def recluster() -> None:
    """Group every face of the library again (names are kept)."""
    with cli_runtime() as runtime:
        report = people_service.recluster(runtime)
    console.print(f"{report['faces']} faces in {report['people']} people; {report['moved']} moved")
