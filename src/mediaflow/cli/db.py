"""``mediaflow db``: migrations, verification, backup, restore and reset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mediaflow.cli.output import console, err_console, fail
from mediaflow.db import admin, migrate, verify
from mediaflow.db.session import database_url, describe_url

app = typer.Typer(help="Migrate, verify, back up and restore the database.", no_args_is_help=True)

Revision = Annotated[str, typer.Argument(help="A revision id, 'head', 'base' or a step like -1")]


# "-1" is a revision, not an option
_REVISION_ARGS = {"ignore_unknown_options": True}


@app.command(context_settings=_REVISION_ARGS)
def upgrade(revision: Revision = "head") -> None:
    """Upgrade the schema (default: to head)."""
    migrate.upgrade(revision)
    console.print(f"database at {migrate.current()}")


@app.command(context_settings=_REVISION_ARGS)
def downgrade(revision: Revision) -> None:
    """Downgrade the schema to REVISION (-1, 000000000001, base)."""
    migrate.downgrade(revision)
    console.print(f"database at {migrate.current() or 'base'}")


@app.command()
def current() -> None:
    """Print the revision the database is at."""
    revision = migrate.current()
    head = migrate.head_revision()
    suffix = " (head)" if revision == head else f" (head is {head})"
    console.print(f"{revision or 'base'}{suffix}")


@app.command(context_settings=_REVISION_ARGS)
def stamp(revision: Revision) -> None:
    """Record REVISION as applied without running migrations (emergency recovery)."""
    migrate.stamp(revision)
    console.print(f"database stamped at {migrate.current() or 'base'}")


@app.command()
def history() -> None:
    """List the revisions, oldest first."""
    for rev in reversed(list(migrate.script_directory().walk_revisions())):
        console.print(f"{rev.revision}  {rev.doc.splitlines()[0] if rev.doc else ''}")


@app.command(name="verify")
def verify_cmd(
    check_only: Annotated[
        bool, typer.Option("--check-only", help="Only inspect the live database.")
    ] = False,
    write_snapshots: Annotated[
        bool, typer.Option("--write-snapshots", help="Rebuild migrations/schema/*.json.")
    ] = False,
) -> None:
    """Compare the live schema with what its revision should be; exit 1 on differences."""
    url = database_url()
    if write_snapshots:
        for path in verify.write_snapshots(url):
            console.print(f"wrote {path}")
        return
    reports = [verify.check(url)]
    if not check_only:
        reports.append(verify.round_trip(url))
    differences = [line for report in reports for line in report.differences]
    for report in reports:
        for note in report.notes:
            err_console.print(f"note: {note}", highlight=False)
    if differences:
        for line in differences:
            fail(line)
        fail(f"{len(differences)} difference(s) in {describe_url(url)}")
        raise typer.Exit(1)
    what = "schema and round trip match" if not check_only else "schema matches"
    console.print(
        f"ok: {what} revision {reports[0].revision or 'base'} ({describe_url(url)})",
        highlight=False,
    )


@app.command()
def backup(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File or folder for the dump.")
    ] = None,
) -> None:
    """pg_dump -Fc the database to media_analysis_<timestamp>.dump."""
    path = admin.backup(output)
    console.print(f"backup written to {path}", highlight=False)


@app.command()
def restore(
    dump: Annotated[Path, typer.Argument(help="A file written by `mediaflow db backup`.")],
) -> None:
    """Restore a backup into the database (its objects replace what is there)."""
    admin.restore(dump)
    console.print(f"restored {dump}; database at {migrate.current() or 'base'}", highlight=False)


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Really delete every row.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a database that is not local.")
    ] = False,
) -> None:
    """Drop and re-create the database, then upgrade it to head (the nuclear option)."""
    name = admin.reset(yes=yes, force=force)
    console.print(f"database {name} re-created at {migrate.current()}", highlight=False)
