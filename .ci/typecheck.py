"""Type-check every Python file of the repository under the one configuration in pyproject.toml,
reporting the files' real paths.

mypy has no equivalent of setuptools' `package-dir` (python/mypy#10564): it derives a
module's name from its folder. The top-level folders `parsers/`, `tasks/`, `lab/`,
`templates/` and `inventory/` are `iospki.parsers` ... `iospki.builtin_inventory` only once
installed. So this script lays out a throw-away tree of links that looks like the installed
package (`.mypy-tree/iospki`), runs mypy on it together with the `tests` and `bench` packages
(they import the toolkit as `iospki.*`), then on the scripts in `.ci/` (files, not a package:
mypy takes them in a run of their own), and rewrites every path in mypy's report back to the
file in the repository, so the report, git and editors name the same file. Nothing else
differs from a plain `mypy -p iospki -p tests -p bench` and `mypy .ci/*.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / ".mypy-tree"
# name inside the package: folder in the repository (pyproject.toml [tool.setuptools.package-dir])
MAPPED = {
    "parsers": "parsers", "tasks": "tasks", "lab": "lab", "templates": "templates", "builtin_inventory": "inventory",
}


def build_tree() -> Path:
    shutil.rmtree(TREE, ignore_errors=True)
    pkg = TREE / "iospki"
    pkg.mkdir(parents=True)
    for entry in (REPO / "iospki").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (pkg / name).symlink_to(REPO / folder)
    return pkg


def real_paths(report: str) -> str:
    """`.mypy-tree/iospki/builtin_inventory/x.py` -> `inventory/x.py`; `.mypy-tree/iospki/x.py` -> `iospki/x.py`."""
    names = "|".join(MAPPED)
    report = re.sub(r"(?:\S*?)\.mypy-tree/iospki/(" + names + r")/", lambda m: MAPPED[m.group(1)] + "/", report)
    return re.sub(r"(?:\S*?)\.mypy-tree/iospki/", "iospki/", report)


def main(argv: list[str]) -> int:
    build_tree()
    env = dict(os.environ, MYPYPATH=str(TREE))
    mypy = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), *argv]
    scripts = [str(p.relative_to(REPO)) for p in sorted((REPO / ".ci").glob("*.py"))]
    rc = 0
    for cmd in ([*mypy, "-p", "iospki", "-p", "tests", "-p", "bench"], [*mypy, *scripts]):
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        sys.stdout.write(real_paths(proc.stdout + proc.stderr))
        rc = max(rc, proc.returncode)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
