"""Entry point of the ``mediaflow`` command.

Every MediaflowError ends the command with a one-line message on stderr and the
error's exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from pydantic import ValidationError

from mediaflow.cli import (
    analyze,
    cloud,
    db,
    people,
    reanalyze,
    results,
    search,
    serve,
    speakers,
    storage,
    worker,
)
from mediaflow.cli.output import fail
from mediaflow.errors import ConfigurationError, MediaflowError

app = typer.Typer(
    name="mediaflow",
    help="Analyze video, audio and images; keep every result in PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.command()(analyze.analyze)
app.command()(analyze.providers)
app.command()(worker.worker)
app.command()(results.jobs)
app.command()(results.show)
app.command(name="export")(results.export_cmd)
app.add_typer(search.app, name="search")
app.command()(reanalyze.reanalyze)
app.command()(serve.serve)
app.add_typer(serve.keys_app, name="keys")
app.add_typer(storage.app, name="storage")
app.command()(cloud.costs)
app.command()(cloud.compare)
app.add_typer(people.app, name="people")
app.add_typer(speakers.app, name="speakers")


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """Run the CLI; translate mediaflow errors into a message and an exit code."""
    try:
        # standalone mode: click reports usage errors itself (exit 2) and exits
        app(args=list(argv) if argv is not None else None, prog_name=prog_name or "mediaflow")
    except MediaflowError as exc:
        fail(str(exc))
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        fail(f"invalid setting MEDIAFLOW_{where.upper()}: {first.get('msg')}")
        sys.exit(ConfigurationError.exit_code)
