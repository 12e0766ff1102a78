"""Shared pytest configuration.

Real device outputs are read in place from ../shared/fixtures (beside the repo, as in CI);
tests that need them skip when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

pytest_plugins: list[str] = ["lab_fixture"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference material not found at {SHARED} (clone ../shared beside the repo)")
    return SHARED
