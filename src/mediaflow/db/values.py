"""What PostgreSQL cannot store: values are checked here before they reach a statement."""

from __future__ import annotations

__all__ = ["has_nul"]


def has_nul(value: object) -> bool:
    """True when ``value`` (a string, or JSON-like lists and dicts of them) holds a NUL.

    PostgreSQL's ``text`` and ``jsonb`` cannot hold the NUL character: a request that
    carries one is refused with a clear message instead of failing in the driver.
    """
    stack = [value]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False
