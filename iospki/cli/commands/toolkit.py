"""Transitional: status and verify still import from here; everything lives in `iospki.cli.kit` and
`iospki.operations.runner` now. Removed once those two commands use the kit."""

from iospki.cli.kit import (
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    EXIT_USAGE,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    YES_OPT,
    closing,
    console,
    err_console,
    fail_usage,
    open_inventory,
    status_cell,
    table,
)
from iospki.operations.runner import Context, failure, run

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_HOSTS",
    "EXIT_OK",
    "EXIT_USAGE",
    "INVENTORY_OPT",
    "JSON_OPT",
    "LIMIT_OPT",
    "YES_OPT",
    "Context",
    "closing",
    "console",
    "err_console",
    "fail_usage",
    "failure",
    "open_inventory",
    "run",
    "status_cell",
    "table",
]
