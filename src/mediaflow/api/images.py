"""How the API serves small content-addressed JPEGs (keyframes, face crops)."""

from __future__ import annotations

from typing import Any

#: the OpenAPI entry of a 200 that is a JPEG
JPEG_RESPONSE: dict[str, Any] = {"description": "A small JPEG", "content": {"image/jpeg": {}}}
#: content-addressed images never change under their URL: clients may cache them for good
CACHE_FOREVER = {"Cache-Control": "private, max-age=31536000, immutable"}
