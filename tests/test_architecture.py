"""The project's structural rules, checked on the source tree.

- The lab and the toolkit never import each other: a test comparing the lab's behaviour
  with the forecast proves something only if they share no code.
- Everything installs under the one `iospki` namespace (no generic top-level packages).
"""

from __future__ import annotations

import ast
import subprocess
import sys
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
    return sorted((REPO / top).rglob("*.py"))


def test_no_symlink_is_tracked() -> None:
    """One path per file: the mapped folders are real folders, never links (`git ls-files -s` mode 120000)."""
    staged = subprocess.run(["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    links = [line.split("\t", 1)[1] for line in staged.splitlines() if line.startswith("120000 ")]
    assert not links, links


def test_mapped_folders_have_one_name() -> None:
    """`iospki.parsers` is the top-level `parsers/` folder (tracebacks name the file git knows), and the
    folder cannot be imported a second time under another name."""
    import iospki.lab
    import iospki.parsers
    import iospki.tasks
    import iospki.templates

    for mod, folder in ((iospki.parsers, "parsers"), (iospki.tasks, "tasks"), (iospki.lab, "lab"),
                        (iospki.templates, "templates")):
        assert Path(mod.__file__ or "").resolve() == REPO / folder / "__init__.py", mod.__file__
    probe = subprocess.run([sys.executable, "-c", "import parsers"], cwd=REPO, capture_output=True, text=True)
    assert probe.returncode != 0 and "import iospki.parsers" in probe.stderr, probe.stderr[-500:]


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
