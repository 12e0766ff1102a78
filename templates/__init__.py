"""Jinja2 templates of IOS PKI configuration. Rendering is pure: intent in, config lines out.

>>> from iospki.operations.intent import CAServerIntent
>>> render_ca_server(CAServerIntent(name="CA", grant="auto", auto_rollover_days=90))
['crypto pki server CA', ' grant auto', ' auto-rollover 90']
"""

from __future__ import annotations

if __name__ != "iospki.templates":  # one path per file: this folder is only ever `iospki.templates`
    raise ImportError(f"import iospki.templates, not {__name__} (the folder is mapped into the iospki package)")

import functools
from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def render(template: str, **context: Any) -> list[str]:
    """Render `template` (e.g. 'trustpoint.j2') into config lines (blank lines dropped)."""
    text = _ENV.get_template(template).render(**context)
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()]


@functools.lru_cache(maxsize=4096)  # an audit of a large fleet asks for the same few lines again and again
def line(macro: str, *args: Any) -> str:
    """One configuration line from the macros of `lines.j2` (the one home of the IOS syntax the templates use).

    >>> line("auto_rollover", 90), line("auto_enroll", 80, True), line("lifetime", "certificate", "<days>")
    ('auto-rollover 90', 'auto-enroll 80 regenerate', 'lifetime certificate <days>')
    """
    return str(getattr(_ENV.get_template("lines.j2").module, macro)(*args)).strip()


def render_prerequisites(intent: Any) -> list[str]:
    return render("prerequisites.j2", intent=intent)


def render_ca_server(ca: Any, archive_password: str | None = None) -> list[str]:
    return render("ca_server.j2", ca=ca, archive_password=archive_password)


def render_trustpoint(tp: Any, url: str) -> list[str]:
    return render("trustpoint.j2", tp=tp, url=url)
