"""The run journal: one JSON line per finished host, so an interrupted run can resume without redoing them.

    DIR/.iospki-journal.jsonl     {"task": "collect", "host": "r1", "ok": true, "result": {...}}

It sits next to the outputs it describes (in the collection when the task writes one) and is appended only
after the host's files are in place, so a host in the journal is a host whose outputs are complete. A run
that ends with every host done removes it; `resume` reads it and skips the hosts it lists as ok for the same
task name (failed hosts are tried again).

    >>> import tempfile, pathlib; p = pathlib.Path(tempfile.mkdtemp()) / "j.jsonl"
    >>> j = Journal(p, "collect")
    >>> j.record("r1", True, {"commands": ["show clock"]}); j.record("r2", False, "timeout")
    >>> Journal(p, "collect").finished()
    {'r1': {'commands': ['show clock']}}
    >>> Journal(p, "deploy").finished()
    {}
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

JOURNAL_FILE = ".iospki-journal.jsonl"


class Journal:
    def __init__(self, path: Path | str, task: str) -> None:
        self.path = Path(path)
        self.task = task

    def finished(self) -> dict[str, Any]:
        """{host: result} of the hosts this task already finished without failure (latest entry wins)."""
        out: dict[str, Any] = {}
        if not self.path.is_file():
            return out
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut short when the run was killed
                continue
            if not isinstance(entry, dict) or entry.get("task") != self.task:
                continue
            host = str(entry.get("host"))
            if entry.get("ok"):
                out[host] = entry.get("result")
            else:
                out.pop(host, None)
        return out

    def record(self, host: str, ok: bool, result: Any) -> None:
        line = json.dumps({"task": self.task, "host": host, "ok": ok, "result": result}, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # private like the collection it sits in; one write per line: a kill cuts at most this line
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
