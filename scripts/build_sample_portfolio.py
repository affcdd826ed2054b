"""Build the sample portfolio shipped as package data (services/core/sample_portfolio/).

yungryce: the legacy default user's real repos, copied byte for byte from
../shared/fixtures/legacy-samples/repos/, each with a GitHub-like ``_repo.json`` (id, times,
size, default branch, language, languages, description, topics) so fingerprints are computed
exactly as for GitHub. Times come from each repo's snapshot commit date (PROVENANCE.md).
octocat: a small second user with three documented repos, for multi-tenant tests.

Run: python scripts/build_sample_portfolio.py [FIXTURES_DIR]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.core.local_source_tools import describe  # noqa: E402
from services.core.sources.local import languages_from_tree, read_tree  # noqa: E402

DOCS = (".repo-context.json", "README.md", "SKILLS-INDEX.md", "ARCHITECTURE.md", "_tree.tsv")
#: Snapshot commit dates from PROVENANCE.md (portfolio: its index commit, date not given).
DATES = {
    "AirBnB_clone_v2": "2025-04-20", "AirBnB_clone_v3": "2025-04-20", "Email_FA": "2025-06-24",
    "alx-backend": "2025-06-23", "alx-backend-python": "2025-06-23", "alx-backend-user-data": "2025-06-23",
    "alx-system_engineering-devops": "2025-04-22", "azure_vmss_cluster": "2025-08-30",
    "collabHub": "2025-06-24", "function-apps-py": "2025-04-21", "imageProcessor-FA": "2025-04-16",
    "monty": "2025-06-23", "recaptcha_FA": "2025-06-24", "simple_shell": "2025-06-23",
    "startstopvm": "2025-06-24", "portfolio": "2025-10-15",
}

OCTOCAT = {
    "Hello-World": {
        "language": "Python",
        "files": {
            "README.md": "# Hello-World\n\nA tiny Flask service that greets visitors and reports its health.\n",
            "SKILLS-INDEX.md": "# Skills\n\n- Flask routing\n- pytest fixtures\n- Docker packaging\n",
            "ARCHITECTURE.md": "# Architecture\n\nOne Flask app (`app.py`) behind gunicorn in a container.\n",
            ".repo-context.json": {
                "project_identity": {"name": "Hello-World", "type": "project", "scope": "backend",
                                     "description": "A minimal Flask web service with health checks."},
                "tech_stack": {"primary": ["Python", "Flask"], "secondary": ["Docker", "gunicorn"]},
                "skill_manifest": {"technical": ["REST APIs", "containerisation"], "domain": ["web services"]},
                "topics": ["flask", "python", "docker"],
            },
        },
        "tree": ["app.py", "tests/test_app.py", "requirements.txt", "Dockerfile"],
    },
    "Spoon-Knife": {
        "language": "HTML",
        "files": {
            "README.md": "# Spoon-Knife\n\nA static page used to practise forking and pull requests.\n",
            ".repo-context.json": {
                "project_identity": {"name": "Spoon-Knife", "type": "exercise", "scope": "frontend",
                                     "description": "A static HTML and CSS page for practising Git forks."},
                "tech_stack": {"primary": ["HTML", "CSS"]},
                "skill_manifest": {"technical": ["Git", "pull requests"], "domain": ["frontend basics"]},
                "topics": ["git", "html"],
            },
        },
        "tree": ["index.html", "styles.css", "README.md"],
    },
    "octo-cli": {
        "language": "Go",
        "files": {
            "README.md": "# octo-cli\n\nA command-line client in Go that lists GitHub issues and pull requests.\n",
            "SKILLS-INDEX.md": "# Skills\n\n- Go modules\n- cobra commands\n- REST pagination\n",
            ".repo-context.json": {
                "project_identity": {"name": "octo-cli", "type": "project", "scope": "systems",
                                     "description": "A Go command-line tool for GitHub issues."},
                "tech_stack": {"primary": ["Go"], "secondary": ["cobra", "GitHub REST API"]},
                "skill_manifest": {"technical": ["CLI design", "HTTP clients"], "domain": ["developer tools"]},
                "topics": ["go", "cli", "github-api"],
            },
        },
        "tree": ["main.go", "cmd/root.go", "cmd/issues.go", "go.mod", "go.sum", "README.md"],
    },
}


def write_tree(folder: Path, paths: list[str]) -> None:
    lines = []
    for path in paths:
        file = folder / path
        size = file.stat().st_size if file.is_file() else 40 * (len(path) % 7 + 1)
        lines.append(f"100644\tblob\t{size}\t{path}")
    (folder / "_tree.tsv").write_text("\n".join(lines) + "\n", "utf-8")


def build(fixtures: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    user_dir = out / "yungryce"
    for index, repo_dir in enumerate(sorted(fixtures.iterdir(), key=lambda p: p.name.lower())):
        target = user_dir / repo_dir.name
        target.mkdir(parents=True)
        for name in DOCS:
            if (repo_dir / name).is_file():
                shutil.copyfile(repo_dir / name, target / name)
        if not (target / "_tree.tsv").exists():
            write_tree(target, sorted(p.name for p in target.iterdir() if p.is_file()))
        entries = read_tree(target / "_tree.tsv")
        meta = describe(target, "yungryce", 880_000_100 + index, DATES[repo_dir.name], entries)
        (target / "_repo.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
    for index, (name, spec) in enumerate(OCTOCAT.items()):
        target = out / "octocat" / name
        target.mkdir(parents=True)
        for filename, content in spec["files"].items():
            text = json.dumps(content, indent=2) + "\n" if isinstance(content, dict) else content
            (target / filename).write_text(text, "utf-8")
        write_tree(target, sorted({*spec["files"], *spec["tree"]}))
        entries = read_tree(target / "_tree.tsv")
        meta = describe(target, "octocat", 1_296_269 + index, f"2025-09-0{index + 1}", entries)
        meta["language"] = spec["language"]
        meta["languages"] = languages_from_tree(entries) or {spec["language"]: 1024}
        (target / "_repo.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/fixtures/legacy-samples/repos"
    build(source, ROOT / "services/core/sample_portfolio")
    print("sample portfolio written to services/core/sample_portfolio")
