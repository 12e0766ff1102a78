"""The built wheel carries the TTP templates and its parsers load them from the installed package
(not from the source tree): unpack the wheel, run a parser in a fresh interpreter from there."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

PROBE = """
import json, sys, iospki
from iospki.parsers import parse
out = parse("show crypto pki timers detail", "PKI Timers\\n|  48.241  (2022-01-15T08:54:35Z)\\n"
            "  |  48.241  (2022-01-15T08:54:35Z) RENEW tp\\n")
srv = parse("show crypto pki server", "Certificate Server CA:\\n    Status: enabled\\n"
            "    Granting mode is: auto\\n")
import iospki.lab, iospki.tasks, iospki.templates  # the mapped folders import from the installed wheel too
mapped = [m.__file__ for m in (iospki.parsers, iospki.tasks, iospki.lab, iospki.templates)]
print(json.dumps({"file": iospki.__file__, "kind": out.timers[0].kind, "server": srv.servers[0].name,
                  "mapped": mapped}))
"""


def test_wheel_parsers_load_their_templates(tmp_path: Path, built_wheel: Path) -> None:
    wheel = built_wheel
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "iospki" / "parsers" / "ttp" / "timers.ttp").is_file()
    # every tracked TTP and Jinja2 file is in the wheel (the wheel is built from tracked files)
    repo = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(
        ["git", "ls-files", "parsers", "templates"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = {name for name in tracked if name.endswith((".ttp", ".j2"))}
    assert any(n.endswith(".ttp") for n in wanted) and any(n.endswith(".j2") for n in wanted)
    assert all((site / "iospki" / name).is_file() for name in wanted), wanted
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert got["file"].startswith(str(site)), got  # the unpacked wheel, not the source tree
    assert all(f.startswith(str(site / "iospki")) for f in got["mapped"]), got
    assert (got["kind"], got["server"]) == ("RENEW", "CA")
