"""Run the real ``mediaflow`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mediaflow(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``mediaflow ARGS`` with only the given MEDIAFLOW_ variables set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "mediaflow", *args],
        env={**base, **(env or {})}, cwd=cwd or REPO,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
