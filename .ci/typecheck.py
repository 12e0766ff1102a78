"""Type-check the installed layout of `iospki` while reporting the files' real paths.

mypy has no equivalent of setuptools' `package-dir` (python/mypy#10564): it derives a
module's name from its folder. The top-level folders `parsers/`, `tasks/`, `lab/` and
`templates/` are `iospki.parsers` ... only once installed. So this script lays out a
throw-away tree of links that looks like the installed package (`.mypy-tree/iospki`),
runs mypy on it under the one configuration in pyproject.toml, and rewrites every path
in mypy's report back to the file in the repository, so the report, git and editors
name the same file. Nothing else differs from a plain `mypy -p iospki`.
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
MAPPED = {"parsers": "parsers", "tasks": "tasks", "lab": "lab", "templates": "templates"}


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


def main(argv: list[str]) -> int:
    build_tree()
    env = dict(os.environ, MYPYPATH=str(TREE))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "-p", "iospki", *argv]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    # `.mypy-tree/iospki/parsers/x.py` -> `parsers/x.py`; `.mypy-tree/iospki/x.py` -> `iospki/x.py`
    mapped = "|".join(MAPPED)
    out = re.sub(r"(?:\S*?)\.mypy-tree/iospki/(" + mapped + r")/", r"\1/", proc.stdout + proc.stderr)
    out = re.sub(r"(?:\S*?)\.mypy-tree/iospki/", "iospki/", out)
    sys.stdout.write(out)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
