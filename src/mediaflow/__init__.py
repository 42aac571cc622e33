"""mediaflow: self-hosted media analysis kept in PostgreSQL.

The Python API starts from a ``Runtime`` (settings, database, content store,
providers, queue)::

    import mediaflow

    with mediaflow.open() as runtime:          # settings from MEDIAFLOW_* variables
        ...                                    # or mediaflow.open(Settings(...))
"""

from __future__ import annotations

from mediaflow.config import Settings, get_settings
from mediaflow.errors import MediaflowError
from mediaflow.runtime import Runtime
from mediaflow.version import __version__

__all__ = ["MediaflowError", "Runtime", "Settings", "__version__", "get_settings", "open"]


def open(settings: Settings | None = None) -> Runtime:
    """A runtime for Python callers: ``settings``, or those of the environment."""
    return Runtime(settings if settings is not None else get_settings())
