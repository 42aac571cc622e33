"""The web page: server-rendered shells (``routes``) whose JS is a client of the REST API.

``STATIC_DIR`` and ``TEMPLATE_DIR`` are where its assets ship inside the package; the
API's app factory mounts ``STATIC_DIR`` at ``/static``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATE_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
