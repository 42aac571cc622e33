"""What PostgreSQL cannot store: values are checked here before they reach a statement."""

from __future__ import annotations

import math

__all__ = ["unstorable"]


def unstorable(value: object) -> str | None:
    """Why PostgreSQL cannot store ``value`` (JSON-like), or None when it can.

    ``text`` and ``jsonb`` refuse the NUL character and text that is not Unicode (a
    lone surrogate, which a JSON ``"\\ud800"`` escape or a bad decode gives Python);
    ``jsonb`` refuses NaN and infinities. A request carrying one is refused with that
    reason instead of failing in the driver or the server.
    """
    stack = [value]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "text that is not valid Unicode (a lone surrogate)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "a number that is not finite"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None
