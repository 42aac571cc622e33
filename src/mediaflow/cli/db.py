"""``mediaflow db``: migrations, verification, backup, restore and reset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console, err_console, fail
from mediaflow.db import admin, migrate, verify

app = typer.Typer(help="Migrate, verify, back up and restore the database.", no_args_is_help=True)

Revision = Annotated[str, typer.Argument(help="A revision id, 'head', 'base' or a step like -1")]


# "-1" is a revision, not an option
_REVISION_ARGS = {"ignore_unknown_options": True}


@app.command(context_settings=_REVISION_ARGS)
def upgrade(revision: Revision = "head") -> None:
    """Upgrade the schema (default: to head)."""
    with cli_runtime() as runtime:
        migrate.upgrade(revision, runtime.db.url, lock_timeout_ms=runtime.settings.lock_timeout_ms)
        console.print(f"database at {migrate.current(runtime.db)}")


@app.command(context_settings=_REVISION_ARGS)
def downgrade(revision: Revision) -> None:
    """Downgrade the schema to REVISION (-1, 000000000001, base)."""
    with cli_runtime() as runtime:
        migrate.downgrade(
            revision, runtime.db.url, lock_timeout_ms=runtime.settings.lock_timeout_ms
        )
        console.print(f"database at {migrate.current(runtime.db) or 'base'}")


@app.command()
def current() -> None:
    """Print the revision the database is at."""
    with cli_runtime() as runtime:
        revision = migrate.current(runtime.db)
    head = migrate.head_revision()
    suffix = " (head)" if revision == head else f" (head is {head})"
    console.print(f"{revision or 'base'}{suffix}")


@app.command(context_settings=_REVISION_ARGS)
def stamp(revision: Revision) -> None:
    """Record REVISION as applied without running migrations (emergency recovery)."""
    with cli_runtime() as runtime:
        migrate.stamp(revision, runtime.db.url)
        console.print(f"database stamped at {migrate.current(runtime.db) or 'base'}")


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
    with cli_runtime() as runtime:
        url, where = runtime.db.url, runtime.db.describe()
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
        fail(f"{len(differences)} difference(s) in {where}")
        raise typer.Exit(1)
    what = "schema and round trip match" if not check_only else "schema matches"
    console.print(
        f"ok: {what} revision {reports[0].revision or 'base'} ({where})",
        highlight=False,
    )


@app.command()
def backup(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File or folder for the dump.")
    ] = None,
) -> None:
    """pg_dump -Fc the database to media_analysis_<timestamp>.dump."""
    with cli_runtime() as runtime:
        path = admin.backup(runtime.db.url, runtime.settings, output)
    console.print(f"backup written to {path}", highlight=False)


@app.command()
def restore(
    dump: Annotated[Path, typer.Argument(help="A file written by `mediaflow db backup`.")],
) -> None:
    """Restore a backup into the database (its objects replace what is there)."""
    with cli_runtime() as runtime:
        runtime.db.dispose()  # hold no pooled connection to the database being replaced
        admin.restore(runtime.db.url, dump)
        revision = migrate.current(runtime.db)
    console.print(f"restored {dump}; database at {revision or 'base'}", highlight=False)


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Really delete every row.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a database that is not local.")
    ] = False,
) -> None:
    """Drop and re-create the database, then upgrade it to head (the nuclear option)."""
    with cli_runtime() as runtime:
        url = runtime.db.url
        runtime.db.dispose()  # the database is dropped: hold no connection to it
        name = admin.reset(url, runtime.settings, yes=yes, force=force)
        revision = migrate.current(url)
    console.print(f"database {name} re-created at {revision}", highlight=False)
