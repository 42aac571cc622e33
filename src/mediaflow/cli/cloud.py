"""``mediaflow costs`` and ``mediaflow compare``: what cloud providers cost, and how two
providers' transcripts of one file differ."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mediaflow.cli.context import cli_runtime
from mediaflow.cli.output import console
from mediaflow.errors import InvalidInput
from mediaflow.services import compare as compare_service
from mediaflow.services import costs as cost_service

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"not a {what} id: {value!r}") from None


def costs(
    job: Annotated[str | None, typer.Option("--job", "-j", help="One job's costs.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Estimated cost of cloud providers per provider (one job, or all jobs)."""
    with cli_runtime() as runtime:
        report = cost_service.costs(runtime, _uuid(job, "job") if job else None)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = Table("kind", "provider", "calls", "billed units", "USD")
    for line in report.lines:
        units = ", ".join(f"{k} {v:g}" for k, v in sorted(line.units.items()))
        table.add_row(line.kind, line.provider, str(line.calls), units, f"{line.usd:.6f}")
    console.print(table)
    budget = f" of max_cost ${report.max_cost:g}" if report.max_cost is not None else ""
    console.print(
        f"total ${report.total_usd:.6f}{budget} (estimates from list prices as of "
        f"{report.as_dict()['prices_date']})",
        highlight=False,
    )


def compare(
    media: Annotated[str, typer.Argument(help="A media file id.")],
    a: Annotated[str | None, typer.Option("--a", help="Reference provider.")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Provider compared to it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Two providers' transcripts of one file: word differences, WER, latency and cost."""
    with cli_runtime() as runtime:
        result = compare_service.compare(runtime, _uuid(media, "media file"), a, b)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    table = Table("", result.a.provider, result.b.provider)
    for label, left, right in (
        ("model", result.a.model, result.b.model),
        ("language", result.a.language, result.b.language),
        ("words", result.a.words, result.b.words),
        ("latency ms", result.a.latency_ms, result.b.latency_ms),
        ("cost USD", result.a.cost_usd, result.b.cost_usd),
    ):
        table.add_row(
            label, "-" if left is None else str(left), "-" if right is None else str(right)
        )
    console.print(table)
    console.print(f"WER of {result.b.provider} against {result.a.provider}: {result.wer:.1%}",
                  highlight=False)  # fmt: skip
    line = Text()
    for run in result.diff:
        if run["op"] == "equal":
            line.append(" ".join(run["a"]) + " ")
            continue
        if run["a"]:
            line.append("[-" + " ".join(run["a"]) + "-]", style="red strike")
        if run["b"]:
            line.append("{+" + " ".join(run["b"]) + "+}", style="green")
        line.append(" ")
    console.print(line)
