"""HTTP byte ranges (RFC 9110 §14) for serving stored originals.

The bytes themselves are streamed by the object store (``ObjectStore.read_range``).

Only the ``bytes`` unit is understood. Of several ranges in one header only the first
is answered (a single-part 206, never ``multipart/byteranges``): players ask for one
range at a time, and RFC 9110 lets a server answer fewer ranges than asked. A header
that cannot be parsed is ignored (the whole file, 200), as the RFC says; a well-formed
range that lies wholly past the end is unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "Unsatisfiable", "parse_range"]

# "a-b", "a-" or "-n"; whitespace around the parts is allowed by the grammar
_SPEC = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start``..``end`` of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1

    def content_range(self) -> str:
        """The Content-Range header value of a 206 answer."""
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(Exception):
    """A well-formed range that selects no byte of the file (answered 416)."""


# more digits than any file size has: int() of thousands of digits is slow and refused
_MAX_DIGITS = 19


def _bounded(text: str) -> str:
    """A position's digits, cut to a value past any real file (same meaning, cheap int)."""
    if len(text) <= _MAX_DIGITS:
        return text
    stripped = text.lstrip("0") or "0"
    return stripped if len(stripped) <= _MAX_DIGITS else "9" * _MAX_DIGITS


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The first range of a ``Range`` header against a file of ``size`` bytes.

    None means "send the whole file" (no header, another unit, or a malformed header);
    raises ``Unsatisfiable`` when the first range starts past the end, or asks for the
    last zero bytes, or the file is empty.
    """
    if not header:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    first = specs.split(",", 1)[0]
    match = _SPEC.fullmatch(first)
    if match is None:
        return None
    start_text, end_text = (_bounded(text) for text in match.groups())
    if not start_text and not end_text:
        return None
    if not start_text:  # "-n": the last n bytes
        suffix = int(end_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size - 1, size)
    start = int(start_text)
    if end_text and int(end_text) < start:  # "5-2" is no range at all: ignore the header
        return None
    if start >= size:
        raise Unsatisfiable
    end = min(int(end_text), size - 1) if end_text else size - 1
    return ByteRange(start, end, size)
