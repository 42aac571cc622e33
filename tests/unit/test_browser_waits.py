"""Browser tests wait with functions, never bare expressions (see tests/browser/test_web.py):
a bare expression that is not true at once is re-checked through eval(), which the web
page's CSP refuses, so such a wait fails only when the browser is slower than usual."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
FUNCTION = re.compile(r"^\s*(\(|function\b|[A-Za-z_$][\w$]*\s*=>)")


def test_every_wait_for_function_gets_a_function() -> None:
    bare = []
    for path in sorted(BROWSER_TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for_function"
                and node.args
            ):
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                if not FUNCTION.match(first.value):
                    bare.append(f"{path.name}:{node.lineno}")
    assert bare == []


def test_the_check_tells_expressions_from_functions() -> None:
    assert FUNCTION.match("() => window.ready")
    assert FUNCTION.match("([t, near]) => t < near")
    assert FUNCTION.match("x => x")
    assert not FUNCTION.match("document.getElementById('player').complete")
    assert not FUNCTION.match("window.ready === 1")
