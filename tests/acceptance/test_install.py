"""A plain ``pip install .`` (no extras) gives a working package and command.

Everything the runtime imports must be a declared dependency: a module that needs a
package only the ``dev`` extra brings in (as httpx once was for the OpenAI provider)
fails here, in a virtual environment built from the project's own metadata.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

IMPORT_ALL = """
import importlib, pkgutil, mediaflow
names = [m.name for m in pkgutil.walk_packages(mediaflow.__path__, prefix="mediaflow.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.mark.slow
def test_a_plain_install_imports_every_module(tmp_path: Path) -> None:
    # a copy of the tree: pip builds in place, and build/ and an egg-info in the checkout
    # would be seen by the other tests (src/ is on their path)
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "test-output"
        ),
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    dev_only = subprocess.run([str(python), "-c", "import pytest"], capture_output=True, text=True)
    assert dev_only.returncode != 0  # the dev extra was really left out

    imported = subprocess.run(
        [str(python), "-c", IMPORT_ALL], capture_output=True, text=True, timeout=300
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert int(imported.stdout.strip()) > 50

    providers = subprocess.run(
        [str(env_dir / "bin" / "mediaflow"), "providers"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "250"},
    )
    assert providers.returncode == 0, providers.stderr
    assert "faster_whisper" in providers.stdout and "no OpenAI API key" in providers.stdout
    assert sys.executable != str(python)
