"""`iospki collect` as it ran before the collect speed-ups of issue 13 section 1, for `bench.bench_cluster`'s
side-by-side rows: every command module and NAPALM imported up front (before commits f320e05 and 153bf51) and a
privileged-mode check exchange before every show command (before b5ad56d). Everything else is today's code.

    .venv/bin/python -m bench.collect_as_before collect --no-facts -i INVENTORY -o DIR
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from netmiko import BaseConnection


@contextlib.contextmanager
def enable_check_each_command() -> Iterator[None]:
    """Every send_command preceded by check_enable_mode (and enable when it says no), as `cli()` did for each
    show command before `show` read the mode from the prompt netmiko reads anyway."""
    real = BaseConnection.send_command

    def send_command(self: BaseConnection, *args: Any, **kwargs: Any) -> Any:
        if not self.check_enable_mode():
            self.enable()
        return real(self, *args, **kwargs)

    BaseConnection.send_command = send_command  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseConnection.send_command = real  # type: ignore[method-assign]


def main() -> int:
    import nornir_napalm.plugins.connections  # noqa: F401  (InitNornir imported it)

    from iospki.cli import app, main  # `app`: every command module, as `import iospki.cli` did

    assert app is not None
    sys.argv[0] = "iospki"
    with enable_check_each_command():
        main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
