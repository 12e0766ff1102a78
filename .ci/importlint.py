"""Check the import contracts in pyproject.toml (`[tool.importlinter]`) on the installed layout.

import-linter's graph builder (grimp) finds a package's modules by walking its folder on disk and
does not follow symbolic links. The top-level folders `parsers/`, `tasks/`, `lab/` and
`templates/` are `iospki.parsers` ... only once installed (setuptools `package-dir`), so a walk of
`iospki/` would silently miss them and every contract about them would pass without being checked.
This script lays out the installed package as setuptools would, from the same `packages` and
`package-dir` settings, in a temporary folder (hard links to the `.py` files where the file system
allows, copies otherwise; line numbers in a report are the repository's), and runs `lint-imports`
there with the repository's config.
Before running it checks that every mapped package is in the tree, so a contract can never be
kept because its modules were not found.

    .venv/bin/python .ci/importlint.py          # as `make lint` runs it
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: mypy (dev extra) brings tomli, the same parser
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _setuptools() -> tuple[list[str], dict[str, str]]:
    cfg = _pyproject()["tool"]["setuptools"]
    return list(cfg["packages"]), dict(cfg.get("package-dir", {}))


def check_allow_list(tree: Path) -> None:
    """The parsers contract lists what parsers may NOT import; a new sub-package of iospki must
    join that list (or the contract stops meaning "only the models")."""
    contracts = _pyproject()["tool"]["importlinter"]["contracts"]
    parsers = next(c for c in contracts if c["id"] == "parsers-import-only-models")
    children = {f"iospki.{p.stem if p.is_file() else p.name}" for p in (tree / "iospki").iterdir()}
    children.discard("iospki.__init__")
    unlisted = children - set(parsers["forbidden_modules"]) - {"iospki.models", "iospki.parsers"}
    if unlisted:
        raise SystemExit(f"importlint: add {sorted(unlisted)} to the forbidden_modules of {parsers['id']}")


def _source_dir(package: str, mapping: dict[str, str]) -> Path:
    """The folder setuptools takes `package` from: the longest mapped prefix, else the dotted path."""
    for prefix in sorted(mapping, key=len, reverse=True):
        if package == prefix or package.startswith(prefix + "."):
            rest = package[len(prefix) :].lstrip(".").split(".") if package != prefix else []
            return REPO.joinpath(mapping[prefix], *rest)
    return REPO.joinpath(*package.split("."))


def build_tree(tree: Path) -> None:
    """`tree/iospki/...` with each listed package's modules, as in the wheel."""
    packages, mapping = _setuptools()
    for package in packages:
        src = _source_dir(package, mapping)
        dst = tree.joinpath(*package.split("."))
        dst.mkdir(parents=True, exist_ok=True)
        for module in src.glob("*.py"):
            try:
                os.link(module, dst / module.name)
            except OSError:  # another file system: a copy reads the same
                shutil.copy2(module, dst / module.name)
    missing = [p for p in packages if not (tree.joinpath(*p.split(".")) / "__init__.py").is_file()]
    if missing:
        raise SystemExit(f"importlint: packages without __init__.py in the installed layout: {missing}")


def main(argv: list[str]) -> int:
    lint = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="iospki-importlint-") as tmp:
        build_tree(Path(tmp))
        check_allow_list(Path(tmp))
        # lint-imports puts its working directory first on sys.path: run it in the tree so that
        # `iospki` resolves to the installed layout, not to the repository's `iospki/` folder.
        cmd = [str(lint), "--no-cache", "--no-logo", *argv, str(REPO / "pyproject.toml")]
        return subprocess.run(cmd, cwd=tmp).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
