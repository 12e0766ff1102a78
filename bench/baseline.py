"""The baseline the load benches measure in the same run (issue 13 §1): the loader as it ran
before the fast paths, i.e. every output through the strict parsers (TTP or line scanners; the
fast paths' fallback: certificates, running config, keys, trustpoints, timers, server, clock ...)
and the cyclic garbage collector left on during and after the load. The loader's own work (the
folder listing, the reads, the config facts, the UTC copies) is today's in both modes, so the
ratio is what the fast paths and the quiet collector give, not everything issue 13 changed."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from iospki.parsers import base
from iospki.state.loader import HostState, load_collection


@contextmanager
def strict_parsers() -> Iterator[None]:
    """Within: every registered parser that has a fast path runs its strict path only."""
    saved = dict(base._REGISTRY)  # noqa: SLF001 - a bench switch, not an API
    try:
        for pattern, func in saved.items():
            if "fast" in inspect.signature(func).parameters:
                with_fast: Callable[..., BaseModel] = func  # its signature has `fast` (checked above)
                base._REGISTRY[pattern] = functools.partial(with_fast, fast=False)  # noqa: SLF001
        base._FOUND.clear()  # noqa: SLF001
        yield
    finally:
        base._REGISTRY.clear()  # noqa: SLF001
        base._REGISTRY.update(saved)  # noqa: SLF001
        base._FOUND.clear()  # noqa: SLF001


def load_baseline(root: Path) -> list[HostState]:
    """`load_collection(root)` with the strict parsers and the collector untouched."""
    with strict_parsers():
        plain: list[HostState] = load_collection.__wrapped__(root)  # type: ignore[attr-defined]
    return plain
