"""Read the SQL blocks of docs/ROLLBACK.md, so the tests run exactly what the doc says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "ROLLBACK.md"


def sql_block_after(heading: str) -> str:
    """The first ```sql block after the line containing ``heading``."""
    text = DOC.read_text()
    start = text.index(heading)
    match = re.search(r"```sql\n(.*?)```", text[start:], re.S)
    assert match, f"no sql block after {heading!r} in {DOC}"
    return match.group(1)


def statements(sql: str) -> list[str]:
    """Split a block into statements (no comments, no psql meta-commands)."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith(("--", "\\"))]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def names_dropped(sql: str, kind: str) -> list[str]:
    """Object names in ``DROP <kind> IF EXISTS name`` statements, in order."""
    return re.findall(rf"DROP {kind} IF EXISTS (\w+)", sql)
