"""State: the raw store, the one loader that turns a collection into host states, device time, platforms.

Data flows one way: devices -> `store` (`<host>/<command>.txt`) -> `iospki.parsers` ->
`loader.load_collection` -> `HostState` (all times UTC) -> audit / forecast -> reports.
"""
