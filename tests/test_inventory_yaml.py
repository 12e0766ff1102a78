"""The inventory's YAML is read by Nornir's SimpleInventory through ruamel.yaml with its C extension
(`ruamel.yaml.clib`, a dependency: without it ruamel scans and parses in pure Python, 3.2x the CPU of
`load_nornir` at 10,000 hosts, `bench/bench_inventory.py`). The C path must read every inventory as the pure
path does (same YAML 1.2 values) or refuse a file loudly, and report broken files in one line, as before."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.inventory import DEFAULT_INVENTORY, load_nornir

# Scalars where YAML 1.1 and 1.2 (or a C scanner and a Python one) could disagree.
TRICKY = """\
a: on
b: yes
c: 010
d: 0o17
e: 1_000
f: 2001-12-14
g: .inf
h: ~
i: 0x1F
j: 12:30:00
k: "quoted: yes"
l: 'single ''quoted'''
m: |
  literal
   block
n: >-
  folded
  text
o: [1, two, {three: 3}]
p: &anchor {x: 1}
q: *anchor
r: {<<: *anchor, y: 2}
s: 2026-12-03T05:30:00Z
t: -0x1F
u: 1e3
v: +12
w: null
x: NULL
y: True
z: '0123'
"""


def test_nornir_reads_yaml_with_the_c_extension() -> None:
    """An install step that drops ruamel.yaml.clib makes every command's inventory load 3x slower."""
    import ruamel.yaml

    assert ruamel.yaml.__with_libyaml__, "ruamel.yaml.clib is not installed: pip install ruamel.yaml.clib"
    assert YAML(typ="safe").Parser is not YAML(typ="safe", pure=True).Parser


@pytest.mark.parametrize("name", ["hosts.yaml", "groups.yaml", "defaults.yaml", "config.yaml", "tricky"])
def test_the_c_path_reads_what_the_pure_path_reads(name: str) -> None:
    text = TRICKY if name == "tricky" else (DEFAULT_INVENTORY / name).read_text()
    fast = YAML(typ="safe").load(text)
    pure = YAML(typ="safe", pure=True).load(text)
    assert fast == pure
    assert fast  # each document holds something to compare


_scalars = st.one_of(
    st.text(max_size=20), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
)
_docs = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(_docs, st.sampled_from([None, True, False]))
def test_generated_documents_read_the_same_on_both_paths(doc: dict[str, object], flow: bool | None) -> None:
    """Whatever the pure emitter writes (quoting, escapes, unicode, flow or block style), the C path reads the
    values the pure path reads, or refuses the file (a one-line exit 2, never other values): libyaml's scanner
    refuses some plain scalars in flow style that ruamel's accepts (`{'0': 0?}`; 116 of 5,000 generated
    documents, all exotic; quoting them reads the same on both paths), and both refuse what ruamel's emitter
    sometimes writes and cannot read back (`{:0: ''}`)."""
    out = io.StringIO()
    dumper = YAML(typ="safe", pure=True)
    dumper.default_flow_style = flow
    dumper.dump(doc, out)
    text = out.getvalue()
    fast, pure = _read(text, pure=False), _read(text, pure=True)
    assert fast == pure or fast is YAMLError


def _read(text: str, pure: bool) -> object:
    try:
        return YAML(typ="safe", pure=pure).load(text)
    except YAMLError:
        return YAMLError


BROKEN = {
    "unclosed flow sequence": "r1:\n  hostname: [127.0.0.1\n  groups: [isr_g1]\n",
    "tab indentation": "r1:\n\thostname: 127.0.0.1\n",
    "duplicate host": "r1:\n  hostname: 127.0.0.1\nr1:\n  hostname: 127.0.0.2\n",
    "bad indentation": "r1:\n  hostname: 127.0.0.1\n groups: [isr_g1]\n",
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_hosts_file_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(DEFAULT_INVENTORY, inv)
    (inv / "hosts.yaml").write_text(BROKEN[case])
    res = CliRunner().invoke(app, ["inventory", "validate", "--inventory", str(inv)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "not valid YAML" in res.output and "hosts.yaml" in res.output, res.output
    assert "line " in res.output  # the operator is told where


def test_the_builtin_inventory_loads_through_the_c_path() -> None:
    nr = load_nornir(DEFAULT_INVENTORY)
    expected = YAML(typ="safe", pure=True).load((DEFAULT_INVENTORY / "hosts.yaml").read_text())
    assert sorted(nr.inventory.hosts) == sorted(expected)
