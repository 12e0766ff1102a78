"""The project's structural rules, checked on the source tree.

- The lab and the toolkit never import each other: a test comparing the lab's behaviour
  with the forecast proves something only if they share no code.
- Everything installs under the one `iospki` namespace (no generic top-level packages).
"""

from __future__ import annotations

import ast
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLKIT_DIRS = ["iospki", "parsers", "tasks", "templates"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _py_files(top: str) -> list[Path]:
    base = REPO / top
    # iospki/ holds symlinks to the other top-level folders: skip them, they are checked as themselves
    return [p for p in base.rglob("*.py") if not any(part.is_symlink() for part in p.relative_to(REPO).parents if part != Path("."))
            and not (top == "iospki" and p.relative_to(base).parts[0] in {"parsers", "tasks", "lab", "templates"})]


def test_lab_imports_nothing_from_the_toolkit() -> None:
    offenders = []
    for p in (REPO / "lab").rglob("*.py"):
        for name in _imports(p):
            if (name == "iospki" or name.startswith("iospki.")) and not name.startswith("iospki.lab"):
                offenders.append(f"{p.relative_to(REPO)} imports {name}")
    assert not offenders, offenders


def test_toolkit_never_imports_the_lab() -> None:
    offenders = []
    for top in TOOLKIT_DIRS:
        for p in _py_files(top):
            for name in _imports(p):
                if name.startswith("iospki.lab") or name == "lab" or name.startswith("lab."):
                    offenders.append(f"{p.relative_to(REPO)} imports {name}")
    assert not offenders, offenders


def test_wheel_installs_only_under_iospki_with_data_files(built_wheel: Path) -> None:
    names = zipfile.ZipFile(built_wheel).namelist()
    dist_info = "-".join(built_wheel.name.split("-")[:2]) + ".dist-info"
    tops = {n.split("/", 1)[0] for n in names}
    assert tops <= {"iospki", dist_info}, tops
    for pkg in ("iospki/parsers/__init__.py", "iospki/tasks/__init__.py", "iospki/lab/__init__.py",
                "iospki/templates/__init__.py", "iospki/models.py"):
        assert pkg in names, pkg
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for suffix in (".ttp", ".j2"):
        in_wheel = sorted(n.split("/", 1)[1] for n in names if n.endswith(suffix))
        in_repo = sorted(t for t in tracked if t.endswith(suffix) and t.split("/", 1)[0] in {"parsers", "templates"})
        assert in_wheel == in_repo, (suffix, in_wheel, in_repo)
