"""`--limit` selection (`select_names`): the indexed resolution selects exactly what trying every term
against every host and group selects (the definition, written out below as the oracle), with the same error
naming the same term, on generated inventories and limits; and it stays linear for many names."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.operations.inventory import InventoryError, select_names


def oracle(groups_of: Mapping[str, Collection[str]], limit: str) -> list[str] | str:
    """The definition: a host is selected when an include term (or none) matches its name or one of its
    groups, and no exclude term does; a term matching nothing anywhere is an error (the error's text here)."""
    terms = [t for t in limit.replace(",", " ").split() if t]
    if not terms:
        return "--limit is empty"
    include = [t for t in terms if not t.startswith("!")]
    exclude = [t[1:] for t in terms if t.startswith("!")]

    def matches(name: str, term: str) -> bool:
        return fnmatch.fnmatchcase(name, term) or any(fnmatch.fnmatchcase(g, term) for g in groups_of[name])

    for t in include + exclude:
        if not t or not any(matches(n, t) for n in groups_of):
            return f"--limit term {t!r} matches no host or group"
    selected = [n for n in groups_of if not include or any(matches(n, t) for t in include)]
    selected = [n for n in selected if not any(matches(n, t) for t in exclude)]
    return selected or f"--limit {limit!r} selects no host"


def actual(groups_of: Mapping[str, Collection[str]], limit: str) -> list[str] | str:
    try:
        return select_names(groups_of, limit)
    except InventoryError as exc:
        return str(exc)


_word = st.sampled_from(["r1", "r2", "r10", "R1", "ca1", "branch", "hub", "site-a", "site-b", "x"])
_glob = st.sampled_from(["r*", "*1", "r?", "site-*", "[rc]*", "*", "R*", "nomatch*", "ca[0-9]"])
_term = st.one_of(_word, _glob).flatmap(lambda t: st.sampled_from([t, "!" + t]))
_inventory = st.dictionaries(
    st.sampled_from(["r1", "r2", "r10", "R1", "ca1", "hub1", "x"]),
    st.frozensets(st.sampled_from(["branch", "hub", "site-a", "site-b", "ca_server"]), max_size=3),
    min_size=1,
)


@settings(max_examples=400, deadline=None)
@given(_inventory, st.lists(_term, min_size=0, max_size=5), st.sampled_from([",", " ", ", "]))
def test_selection_is_the_definition(inv: dict[str, frozenset[str]], terms: list[str], sep: str) -> None:
    limit = sep.join(terms)
    assert actual(inv, limit) == oracle(inv, limit)


@pytest.mark.parametrize("limit", ["!", "r1,!", "!!r1"])
def test_odd_terms_as_the_definition(limit: str) -> None:
    inv = {"r1": {"branch"}, "r2": {"branch"}}
    assert actual(inv, limit) == oracle(inv, limit)


def test_a_thousand_names_over_ten_thousand_hosts_select_exactly_those() -> None:
    inv = {f"r{i:05d}": {f"site-{i % 4}"} for i in range(10_000)}
    names = [f"r{i:05d}" for i in range(0, 10_000, 10)]
    got = select_names(inv, ",".join(names) + ",!r00000")
    assert got == names[1:]
