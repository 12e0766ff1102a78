"""The lab twin: emulated IOS/IOS-XE routers behind real SSH, on a shared lab clock.

Run it with `python -m iospki.lab up|down|status|clock|fault|timers` (see `__main__`). Modules:
`inventory` (Nornir SimpleInventory with plain yaml), `lab` (the process: devices, clock, registry, plugins),
`device` (one router's state), `ssh` (asyncssh server, SCP to flash:/nvram:), `shell` (one CLI session),
`engine` (config mode, shared by CLI, file copies and boot), `registry` (command patterns and resolution),
`builtins` (built-in commands), `config` (running config tree), `clock` (lab clock and timers), `httpd`
(per-router HTTP listener and client), `storage` (nvram:/flash:), `control` (HTTP/JSON control channel),
`platforms` (show version per platform). Plugins (the PKI engine in `pki/`) use the API in `PLUGIN.md`.
Nothing here imports the rest of iospki.
"""

if __name__ != "iospki.lab":  # one path per file: this folder is only ever `iospki.lab`
    raise ImportError(f"import iospki.lab, not {__name__} (the folder is mapped into the iospki package)")
