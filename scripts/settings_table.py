"""Print README's configuration table from services/core/variables.py (paste it between the markers)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.core.settings import VARIABLES


def table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for var in VARIABLES:
        default = f"`{var.default}`" if var.default else "(empty)"
        lines.append(f"| `{var.env}` | {default} | {var.doc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text("utf-8")
    start, end = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
    if "--write" in sys.argv and start in text and end in text:
        head, rest = text.split(start, 1)
        _old, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{table()}\n{end}{tail}", "utf-8")
        print("README.md configuration table updated")
    else:
        print(table())
