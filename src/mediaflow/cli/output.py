"""Console output shared by the commands: results to stdout, errors to stderr."""

from __future__ import annotations

from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    """Print a one-line error to stderr."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
