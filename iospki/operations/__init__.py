"""Operations: inventory and intent, resilience (retries, CA slots), config diff, SCEP probe.

Everything here may talk to devices through `iospki.tasks`; the pure core (state, pki,
forecast, audit, reports) never imports this package.
"""
