"""The CLI's edge: each command builds its ``Runtime`` here from the environment.

This is the one place in the CLI that reads settings; commands pass the runtime on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mediaflow.config import get_settings
from mediaflow.runtime import Runtime

__all__ = ["cli_runtime"]


@contextmanager
def cli_runtime() -> Iterator[Runtime]:
    """The runtime of one command (settings from ``MEDIAFLOW_*``), closed when it ends."""
    runtime = Runtime(get_settings())
    try:
        yield runtime
    finally:
        runtime.close()
