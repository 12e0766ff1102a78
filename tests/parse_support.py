"""Helpers for the parser tests: real fixtures in place and the seed's device outputs."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from iospki.parsers import parse

M = TypeVar("M", bound=BaseModel)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "fixtures" / "real"
SEED = SHARED / "seed" / "000_c2e754c292b578ca.txt"


def fixtures(*dirs: str) -> list[Path]:
    """Every real output (*.txt) in the given fixture folders (e.g. 'show_clock'), all sources."""
    if not REAL.is_dir():
        return []
    return sorted(p for d in dirs for p in REAL.glob(f"*/{d}/*.txt"))


def fixture_ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.parent.name}/{p.name}" for p in paths]


def require_shared() -> None:
    if not REAL.is_dir():
        pytest.skip(f"reference material not found at {SHARED}")


def parse_as(model: type[M], command: str, text: str, platform: str | None = None) -> M:
    """`parse(command, text, platform)` for a spelling `parse` types as BaseModel (a trustpoint name, an
    abbreviation), checked to be `model`: the check is part of the test, not a cast."""
    out = parse(command, text, platform)
    assert isinstance(out, model), f"{command!r} parsed into {type(out).__name__}, not {model.__name__}"
    return out


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def seed_block(start: str, end: str) -> str:
    """A device output quoted in the seed tech note, from the line starting with `start` up to
    the line starting with `end`. The note is a web page: it doubles line breaks, uses
    non-breaking spaces, HTML entities (`&colon;`) and '●' figure markers, which are removed
    here (they are artefacts of the document, not of the device)."""
    if not SEED.is_file():
        pytest.skip(f"seed tech note not found at {SEED}")
    lines = SEED.read_text(encoding="utf-8").splitlines()
    norm = [ln.replace("\xa0", " ").strip() for ln in lines]
    i = next(n for n, ln in enumerate(norm) if ln.startswith(start))
    j = next(n for n, ln in enumerate(norm) if n > i and ln.startswith(end))
    return "\n".join(html.unescape(ln) for ln in lines[i:j] if ln.strip() and ln.strip() != "\u25cf")
