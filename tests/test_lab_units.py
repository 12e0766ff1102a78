"""Pure parts of the lab core: inventory resolution, the IOS command resolver, parent-aware diffs, pipes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iospki.lab.builtins import _tree, incremental_diff
from iospki.lab.config import ConfigNode, render
from iospki.lab.engine import error_text
from iospki.lab.inventory import InventoryError, load_inventory
from iospki.lab.registry import Command, expand, resolve
from iospki.lab.shell import apply_pipe

REPO = Path(__file__).resolve().parents[1]


def _write(d: Path, hosts: dict, groups: dict, defaults: dict) -> Path:  # type: ignore[type-arg]
    d.mkdir(parents=True, exist_ok=True)
    (d / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    (d / "groups.yaml").write_text(yaml.safe_dump(groups))
    (d / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    return d


def test_builtin_inventory_resolves_platforms_and_secret() -> None:
    specs = {s.name: s for s in load_inventory(REPO / "inventory")}
    assert set(specs) == {"ca1", "r1", "r2", "r3", "r4", "r5"}
    r1, r3 = specs["r1"], specs["r3"]
    assert (r1.family, r1.platform_family, r1.model, r1.software) == ("ios", "ISR-G1", "2811", "15.1(4)M12a")
    assert (r3.family, r3.platform_family, r3.model) == ("iosxe", "ISR4K", "ISR4451-X/K9")
    assert r1.address == "127.10.0.11" and r1.port == 2222 and r1.username == "iospki"
    assert r1.secret == "lab-only-enable"


def test_inventory_precedence_and_lab_flag(tmp_path: Path) -> None:
    d = _write(
        tmp_path,
        hosts={
            "a": {"hostname": "127.9.0.1", "groups": ["child", "other"], "data": {"model": "HOSTMODEL"}},
            "b": {"hostname": "127.9.0.2", "groups": ["child"]},
            "c": {"hostname": "127.9.0.3", "data": {"lab": False}},
        },
        groups={
            "child": {"groups": ["parent"], "data": {"software": "CHILD"}},
            "parent": {"data": {"software": "PARENT", "family": "iosxe", "platform_family": "CSR1k"}},
            "other": {"data": {"software": "OTHER"}, "port": 2200},
        },
        defaults={"username": "u", "password": "p", "port": 22, "data": {"lab": True}},
    )
    specs = {s.name: s for s in load_inventory(d)}
    assert set(specs) == {"a", "b"}  # c has lab: false
    a, b = specs["a"], specs["b"]
    assert a.model == "HOSTMODEL" and a.software == "CHILD" and a.family == "iosxe"
    assert a.port == 2200 and b.port == 22  # first group providing the attribute wins over defaults


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ({"x": {"hostname": "192.0.2.1"}}, "x: address 192.0.2.1 is outside 127.0.0.0/8"),
        ({"x": {"hostname": "router.example"}}, "x: hostname 'router.example' is not an IP address"),
        ({"x": {"hostname": "127.0.0.5", "groups": ["nope"]}}, "x: unknown group 'nope'"),
        (
            {"x": {"hostname": "127.0.0.5"}, "y": {"hostname": "127.0.0.5"}},
            "y: 127.0.0.5:22 is used by another host",
        ),
    ],
)
def test_inventory_errors_name_host_and_cause(tmp_path: Path, hosts: dict, message: str) -> None:  # type: ignore[type-arg]
    d = _write(tmp_path, hosts=hosts, groups={}, defaults={"data": {"lab": True}})
    with pytest.raises(InventoryError, match=message):
        load_inventory(d)


def _cmds(*patterns: str) -> list[Command]:
    out = []
    for i, p in enumerate(patterns):
        for toks in expand(p):
            out.append(Command(p, toks, None, order=i))
    return out


def test_resolver_abbreviations_errors_and_precedence() -> None:
    cmds = _cmds(
        "show running-config ...",
        "show clock [detail]",
        "show crypto pki timers [detail]",
        "show crypto pki server <name> [requests]",
        "dir [<path>]",
        "disable",
        "crypto pki trustpoint <name>",
    )
    out = resolve(cmds, ["sh", "run", "all"])
    assert out.kind == "ok" and out.match is not None and out.match.rest == ["all"]
    assert out.match.line == "show running-config all"
    out = resolve(cmds, ["sh", "cry", "pki", "ser", "CA", "req"])
    assert out.kind == "ok" and out.match is not None
    assert out.match.args == {"name": "CA"} and out.match.has("requests")
    assert resolve(cmds, ["sh", "c"]).kind == "ambiguous"
    assert resolve(cmds, ["di"]).kind == "ambiguous"
    assert resolve(cmds, ["show"]).kind == "incomplete"
    assert resolve(cmds, ["show", "crypto", "pki", "server"]).kind == "incomplete"
    bad = resolve(cmds, ["show", "clock", "detail", "extra"])
    assert bad.kind == "invalid" and bad.position == 3
    assert (
        error_text(bad, "show clock detail extra", 3)
        == " " * (3 + 18) + "^\n% Invalid input detected at '^' marker.\n\n"
    )
    # a later registration of the same pattern wins (plugins override built-ins)
    two = [
        Command("x <a>", ["x", "<a>"], "first", order=1),
        Command("x <a>", ["x", "<a>"], "second", order=2),
    ]
    res = resolve(two, ["x", "1"])
    assert res.command is not None and res.command.handler == "second"


def test_incremental_diff_is_parent_aware() -> None:
    running = _tree(
        "hostname r1\ncrypto pki trustpoint A\n enrollment url http://ca\n revocation-check none\n"
    )
    cand = _tree(
        "hostname r1\n"
        "crypto pki trustpoint A\n enrollment url http://ca\n auto-enroll 80\n"
        "crypto pki trustpoint B\n enrollment url http://ca\n"
    )
    assert incremental_diff(running, cand, ignorecase=True) == [
        "crypto pki trustpoint A",
        " auto-enroll 80",
        "crypto pki trustpoint B",
        " enrollment url http://ca",
    ]
    assert incremental_diff(running, running, ignorecase=False) == []


def test_render_and_pipes() -> None:
    root = ConfigNode("")
    root.set_line("interface Loopback0", block=True).set_line("ip address 127.0.0.1 255.255.255.255")
    root.set_line("hostname r9", key=1)
    root.set_line("hostname r10", key=1)
    lines = render(root)
    assert lines.index("hostname r10") < lines.index("interface Loopback0") and "hostname r9" not in lines
    text = "\n".join(lines) + "\n"
    assert (
        apply_pipe(text, "section", "interface")
        == "interface Loopback0\n ip address 127.0.0.1 255.255.255.255\n"
    )
    assert apply_pipe(text, "include", "host") == "hostname r10\n"
    assert apply_pipe(text, "count", "^!") == f"Number of lines which match regexp = {lines.count('!')}\n"


def test_pipe_section_and_begin_edge_cases() -> None:
    text = (
        "Building configuration...\n"
        "!\n"
        "hostname r1\n"
        "interface Loopback0\n"
        " ip address 127.0.0.1 255.255.255.255\n"
        "interface GigabitEthernet1\n"
        " description uplink\n"
        " ip address 127.0.0.2 255.0.0.0\n"
        " negotiation auto\n"
        "crypto pki certificate chain TP\n"
        " certificate 01\n"
        "  30820122 0D06092A\n"
        "  \tquit\n"
        "line vty 0 4\n"
        " login local\n"
    )
    # a child line that matches shows its whole section, header first (IOS `| section ip address`)
    assert apply_pipe(text, "section", "ip address") == (
        "interface Loopback0\n ip address 127.0.0.1 255.255.255.255\n"
        "interface GigabitEthernet1\n description uplink\n ip address 127.0.0.2 255.0.0.0\n negotiation auto\n"
    )
    # nested children stay with their top-level section
    assert apply_pipe(text, "section", "30820122").splitlines()[0] == "crypto pki certificate chain TP"
    assert apply_pipe(text, "section", "30820122").count("\n") == 4
    # section include / exclude keywords
    assert apply_pipe(text, "section", "include ^line") == "line vty 0 4\n login local\n"
    assert "interface" not in apply_pipe(text, "section", "exclude interface")
    assert "line vty 0 4" in apply_pipe(text, "section", "exclude interface")
    assert apply_pipe(text, "section", "nomatch") == ""
    # begin: from the first match to the end; no match gives nothing; a bad regex is taken literally
    assert apply_pipe(text, "begin", "^line") == "line vty 0 4\n login local\n"
    assert apply_pipe(text, "begin", "nomatch") == ""
    assert apply_pipe("a\n[x\nb\n", "begin", "[x") == "[x\nb\n"
    assert apply_pipe("", "begin", ".") == "" and apply_pipe("", "section", ".") == ""
    # output without a trailing newline still ends with one
    assert apply_pipe("hostname r1", "include", "host") == "hostname r1\n"
