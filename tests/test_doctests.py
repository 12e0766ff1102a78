"""Every doctest in the package runs, each module imported under its one `iospki.*` name."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

# The mapped folders live outside iospki/ on disk, so each is walked from its own __path__.
ROOTS = ("iospki", "iospki.parsers", "iospki.tasks", "iospki.templates", "iospki.lab")


def _modules() -> list[str]:
    names = set(ROOTS)
    for root in ROOTS:
        pkg = importlib.import_module(root)
        for info in pkgutil.walk_packages(pkg.__path__, root + "."):
            # `__main__` modules run their program on import; they hold no doctests
            if not info.name.endswith("__main__"):
                names.add(info.name)
    return sorted(names)


MODULES = _modules()


def test_walk_reaches_the_mapped_folders() -> None:
    for pkg in ("iospki.parsers", "iospki.tasks", "iospki.templates", "iospki.lab"):
        assert any(m == pkg or m.startswith(pkg + ".") for m in MODULES), pkg


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} doctest examples failed"
