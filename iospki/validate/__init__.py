"""Topology validation on the lab twin (`iospki lab validate`), in rooms:

- `model`: what a validation found (problems, checkpoints, the result);
- `compare`: expected (the forecast, replayed) versus observed (the collections), and the checks;
- `schedule`: when to look (checkpoints after every forecast event and certificate end);
- `twin`: the lab as a child process (`python -m iospki.lab`);
- `run`: the orchestrator (`run_validation`, `write_outputs`), calling the toolkit's library functions.

The report writers are in `iospki.reports.validation`. This package imports nothing on its own, so the reports
can read `model` without pulling in the orchestrator.
"""
