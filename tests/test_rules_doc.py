"""The rulebook `docs/rules.md` (issue 10 §5) holds every rule id the code and tests cite, and every
rule in it names its source; README.md links only to files in the repository.

A rule id is a letter and a number (`C4`, `S2`, `P1`, `V1`), cited alone, in lists (`C2/C3`, `C4/S5`)
or ranges (`S1-S5`, `C1-C8`). Citations are read from comments and docstrings of the Python files and
from the Markdown files under iospki/, parsers/, tasks/, lab/ and tests/ (string literals are data:
`"demo server S1"` is a device name, not a citation).
"""

from __future__ import annotations

import ast
import html
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "docs" / "rules.md"
CITING = ["iospki", "parsers", "tasks", "lab", "tests"]
SHARED = REPO.parent / "shared"
SEED = SHARED / "seed" / "000_c2e754c292b578ca.txt"
BEHAVIOUR = SHARED / "docs" / "ios-pki-behaviour.md"

_ID = re.compile(r"\b([CSPV])(\d{1,2})(?:\s*[-–]\s*\1?(\d{1,2}))?\b")
_HEADING = re.compile(r"^## ([CSPV]\d{1,2}) — \S", re.MULTILINE)


# ---- citations in code and tests ---------------------------------------------------------------


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of the comments and docstrings of a Python file, or of a whole Markdown file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        yield from enumerate(text.splitlines(), 1)
        return
    if not _ID.search(text):
        return  # nothing that looks like an id: skip the (slow, pure-Python) tokenizer
    if any("#" in line and _ID.search(line) for line in text.splitlines()):
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                yield node.body[0].lineno, doc


def ids_in(text: str) -> set[str]:
    """Rule ids cited in a text, ranges expanded.

    >>> sorted(ids_in("C2/C3 and C4/S5; S1-S5"))
    ['C2', 'C3', 'C4', 'S1', 'S2', 'S3', 'S4', 'S5']
    """
    out: set[str] = set()
    for m in _ID.finditer(text):
        first = int(m.group(2))
        last = int(m.group(3) or first)
        out.update(f"{m.group(1)}{n}" for n in range(first, last + 1))
    return out


def cited_ids(root: Path, tops: list[str]) -> dict[str, list[str]]:
    """rule id -> ['path:line', ...] for every citation under `root/<top>` for each top."""
    found: dict[str, list[str]] = {}
    for top in tops:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".py", ".md") or "golden" in path.relative_to(root).parts:
                continue
            for line, text in _prose(path):
                for rule in ids_in(text):
                    found.setdefault(rule, []).append(f"{path.relative_to(root)}:{line}")
    return found


# ---- the rulebook ------------------------------------------------------------------------------


def sections(text: str) -> dict[str, str]:
    """rule id -> its section's text (heading `## C4 — title` up to the next `## `)."""
    heads = list(_HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(heads):
        end = text.find("\n## ", m.end())
        out[m.group(1)] = text[m.start() : end if end != -1 else len(text)]
        assert m.group(1) not in [h.group(1) for h in heads[:i]], f"{m.group(1)} has two sections"
    return out


def source_of(section: str) -> str:
    """The `**Source:**` paragraph of a rule section ('' without one)."""
    m = re.search(r"^\*\*Source:\*\*(.*?)(?:\n\n|\Z)", section, re.MULTILINE | re.DOTALL)
    return " ".join(m.group(1).split()) if m else ""


def source_problems(rule: str, source: str) -> list[str]:
    """Why a Source paragraph does not name a usable source (empty when it does)."""
    if not source:
        return [f"{rule}: no **Source:** paragraph"]
    kinds = {
        "seed": re.search(r'\bseed, (?:end of )?section "[^"]+"', source, re.IGNORECASE),
        "behaviour doc": re.search(r"\bbehaviour doc(?:'s)? §\d", source, re.IGNORECASE),
        "inferred": re.search(r"\binferred\b", source),
        "derived": re.search(r"\bderived from ([CSPV]\d{1,2}\b)", source),
    }
    if not any(kinds.values()):
        return [f"{rule}: the source names no seed section, behaviour doc section, inference or derivation"]
    problems = []
    inferred = kinds["inferred"]
    if inferred and not (kinds["seed"] or kinds["behaviour doc"] or kinds["derived"]):
        reasoning = source[inferred.end() :].split()
        if len(reasoning) < 12:
            problems.append(f"{rule}: 'inferred' without its reasoning")
    for ref in re.finditer(r"§\d+(?:\.\d+)?", source):
        if not re.match(r"[^§]{0,20}?\[(?:V|D|R|I|source-only)\b", source[ref.end() :]):
            problems.append(f"{rule}: {ref.group(0)} without its evidence tag [V]/[D]/[R]/[I]")
    return problems


def _rulebook() -> dict[str, str]:
    assert RULES.is_file(), f"{RULES.relative_to(REPO)} is missing"
    return sections(RULES.read_text(encoding="utf-8"))


def test_every_cited_rule_has_a_section() -> None:
    cited = cited_ids(REPO, CITING)
    assert cited, "no rule citations found: the collector is broken"
    missing = {rule: where[:3] for rule, where in cited.items() if rule not in _rulebook()}
    assert not missing, f"rule ids cited but not in docs/rules.md: {missing}"


def test_every_rule_names_its_source() -> None:
    book = _rulebook()
    problems = [p for rule, text in book.items() for p in source_problems(rule, source_of(text))]
    assert not problems, problems


def test_issue_11_rules_are_in_the_book() -> None:
    """The ids issue 11's engineers cite (C9 capped SHADOW, C10 the IOS-XE capture, P1 POLL, V1)."""
    book = _rulebook()
    assert {"C9", "C10", "P1", "V1"} <= set(book)
    assert re.search(r"\bseed\b", source_of(book["C9"])) and "§3.3 [V]" in source_of(book["C10"])


def _normalized(text: str) -> str:
    """One line of prose: the web page's line breaks joined (a word split as `CA-` / `certificaat`
    rejoined), non-breaking spaces, entities and '●' figure markers removed."""
    text = html.unescape(text).replace("\xa0", " ").replace("\u25cf", " ")
    text = re.sub(r"(?<=\S-)\n\s*(?=\w)", "", text)
    return " ".join(text.split())


def test_seed_quotes_and_sections_are_the_seeds_words() -> None:
    """Every «quote» in the rulebook is the seed's text, every cited seed section one of its headings."""
    if not SEED.is_file():
        pytest.skip(f"seed tech note not found at {SEED}")
    seed_text = SEED.read_text(encoding="utf-8")
    seed = _normalized(seed_text)
    headings = {" ".join(line.replace("\xa0", " ").split()) for line in seed_text.splitlines()}
    book = RULES.read_text(encoding="utf-8")
    quotes = [_normalized(q) for q in re.findall(r"«(.+?)»", book, re.DOTALL)]
    assert len(quotes) >= 20, len(quotes)
    assert [q for q in quotes if q not in seed] == []
    cited = {" ".join(s.split()) for s in re.findall(r'seed, (?:end of )?section\s+"([^"]+)"', book)}
    assert cited and cited <= headings, cited - headings


def test_behaviour_doc_sections_exist() -> None:
    if not BEHAVIOUR.is_file():
        pytest.skip(f"behaviour doc not found at {BEHAVIOUR}")
    heads = set(
        re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", BEHAVIOUR.read_text(encoding="utf-8"), re.MULTILINE)
    )
    refs = set(re.findall(r"§(\d+(?:\.\d+)?)", RULES.read_text(encoding="utf-8")))
    assert refs and refs <= heads, refs - heads


# ---- the checks can fail -----------------------------------------------------------------------


def test_collector_finds_a_citation_and_ignores_data(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(
        '"""Implements C7 and S1-S3."""\nNAME = "demo server S1"\nx = 1  # C99: no such rule\n',
        encoding="utf-8",
    )
    (tmp_path / "pkg" / "notes.md").write_text("see V7\n", encoding="utf-8")
    found = cited_ids(tmp_path, ["pkg"])
    assert set(found) == {"C7", "S1", "S2", "S3", "C99", "V7"}
    assert found["C99"] == ["pkg/mod.py:3"] and found["S1"] == ["pkg/mod.py:1"]
    assert {"C99", "V7"} - set(_rulebook()) == {"C99", "V7"}  # would fail the citation test


def test_source_check_rejects_a_rule_without_one() -> None:
    assert source_problems("X1", "") == ["X1: no **Source:** paragraph"]
    assert source_problems("X1", "what the lab does.") != []
    assert source_problems("X1", "inferred.") == ["X1: 'inferred' without its reasoning"]
    assert source_problems("X1", "behaviour doc §1.2 (renew).") != []
    assert source_problems("X1", 'seed, section "Clientvernieuwing": «...».') == []


# ---- README links ------------------------------------------------------------------------------

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)+\.(?:md|py|ya?ml|toml|j2|ttp|txt|json|cfg|ini))`")


def readme_targets(text: str) -> set[str]:
    """Repository paths README.md points to: Markdown link targets (not URLs or anchors) and
    `code` spans that name a file under the repository (`lab/PLUGIN.md`). `../shared/...` is the
    reference material beside the repository, named on purpose and never copied in."""
    links = {t.split("#", 1)[0] for t in _LINK.findall(text) if not re.match(r"[a-z]+:|#", t)}
    paths = {p for p in _PATH.findall(text) if not p.startswith("..")}
    return {t for t in links | paths if t}


def test_readme_links_only_to_files_in_the_repo() -> None:
    readme = REPO / "README.md"
    targets = readme_targets(readme.read_text(encoding="utf-8"))
    assert targets, "README.md names no file: the link collector is broken"
    missing = sorted(
        t for t in targets if not (REPO / t).resolve().is_relative_to(REPO) or not (REPO / t).exists()
    )
    assert not missing, f"README.md points to files that are not in the repository: {missing}"


def test_readme_link_collector() -> None:
    text = "[a](docs/rules.md) [b](https://x.org/y.md) [c](#top) `lab/PLUGIN.md` `../shared/x/y.txt` `a.json`"
    assert readme_targets(text) == {"docs/rules.md", "lab/PLUGIN.md"}
