"""The structure of the package holds: layers, one way in for settings, declared imports.

- import-linter's contracts (pyproject.toml) keep every layer of docs/ARCHITECTURE.md
  importing only from the layers below it;
- only the edges (the CLI, ``mediaflow.open``) read settings from the environment,
  and no function takes a database URL that silently defaults to "whatever the
  environment says";
- every module imports, and every third-party package the package imports is a
  declared runtime dependency (not only a ``dev`` one).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import mediaflow

PACKAGE_DIR = Path(mediaflow.__file__).resolve().parent
REPO = Path(__file__).resolve().parents[2]
EDGES = ("cli/", "__init__.py", "config.py")


def _modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        found.append((relative, ast.parse(path.read_text(), filename=str(path))))
    return found


def test_the_layers_hold() -> None:
    # its own process: import-linter configures logging and would silence every logger
    # that already exists in this one (later tests' caplog would see nothing)
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_the_edges_read_the_environment() -> None:
    offenders = [
        relative
        for relative, tree in _modules()
        if not relative.startswith(EDGES)
        and any(
            isinstance(node, ast.Name | ast.alias | ast.Attribute)
            and "get_settings"
            in (getattr(node, "id", "") or getattr(node, "name", "") or getattr(node, "attr", ""))
            for node in ast.walk(tree)
        )
    ]
    assert offenders == []


def test_no_function_defaults_its_database_to_the_environment() -> None:
    offenders = []
    for relative, tree in _modules():
        if relative.startswith((*EDGES, "runtime.py")):  # where parts are built from settings
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            positional = args.posonlyargs + args.args
            defaults = dict(
                zip(
                    [a.arg for a in positional][len(positional) - len(args.defaults) :],
                    args.defaults,
                    strict=True,
                )
            )
            defaults |= {
                a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d
            }
            for name, default in defaults.items():
                if name in {"url", "database_url", "store", "settings"} and (
                    isinstance(default, ast.Constant) and default.value is None
                ):
                    offenders.append(f"{relative}:{node.lineno} {node.name}({name}=None)")
    assert offenders == []


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="mediaflow.")]
    assert "mediaflow.pipeline.stages" in names
    for name in names:
        importlib.import_module(name)


def _requirement_closure(distribution: str) -> set[str]:
    """Normalised names of ``distribution`` and everything it needs, without extras."""
    seen: set[str] = set()
    todo = [distribution]
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement.replace('"', " ").replace("'", " "):
                continue
            if (
                ";" in requirement
                and "python_version" not in requirement
                and "sys_platform" not in requirement
                and "platform" not in requirement
            ):
                continue
            todo.append(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])
    return seen


def test_every_imported_package_is_a_runtime_dependency() -> None:
    imported: set[str] = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {
        name for name in imported if name not in sys.stdlib_module_names and name != "mediaflow"
    }
    owners = importlib.metadata.packages_distributions()
    closure = _requirement_closure("mediaflow")
    # optional extras (not dev) may be imported too, lazily, where their feature is used
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra, requirements in extras.items():
        if extra == "dev":
            continue
        for requirement in requirements:
            name = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                closure |= _requirement_closure(name)
    undeclared = {
        name: owners.get(name)
        for name in sorted(third_party)
        if not {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(name, [])} & closure
    }
    assert undeclared == {}
