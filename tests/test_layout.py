"""The layout rules that keep modules small and readable, checked on every production module.

No module over 400 lines, no function over 80 (argparse declarations, the ``register`` functions
of the CLI and ``build_parser``, are tables and excepted), and every module says what it is for.
The dependency direction is checked by import-linter (``lint-imports``, run by scripts/test.sh).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cloudfolio", "router", "rollout", "services", "loadtest")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
DECLARATIONS = {"register", "build_parser"}


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text("utf-8")
            found[str(path.relative_to(ROOT))] = (text.count("\n"), ast.parse(text))
    return found


def test_modules_and_functions_are_small() -> None:
    problems = []
    for name, (lines, tree) in modules().items():
        if lines > MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name not in DECLARATIONS:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{name}: {node.name} has {length} lines")
    assert not problems, "\n".join(problems)


def test_every_module_says_what_it_is_for() -> None:
    undocumented = [name for name, (_lines, tree) in modules().items()
                    if not name.endswith("__main__.py") and not ast.get_docstring(tree)]
    assert not undocumented, undocumented
