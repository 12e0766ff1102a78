"""The cooperative Ctrl-C (`iospki.operations.interrupt`) without a lab: real SIGINTs to real processes.

The lab tests (test_interrupts.py) show the commands stopping; these pin the rules underneath: outside an
operation Ctrl-C raises at once, inside one it only sets the stop (sleeps wake up, the next device exchange is
refused), and a second Ctrl-C quits at once naming the hosts whose config exchange it cut.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from iospki.operations import interrupt

    interrupt.install()
    mode = sys.argv[1]
    if mode == "plain":  # no operation running: Ctrl-C raises right away
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            print("raised", interrupt.stopped())
        sys.exit(0)
    with interrupt.cooperative():
        if mode == "sleep":  # a poll waiting 60 s wakes up on the stop and refuses the next exchange
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
            t0 = time.monotonic()
            try:
                interrupt.sleep(60)
            except interrupt.Interrupted as exc:
                print(f"woke {time.monotonic() - t0:.1f} {exc}")
            try:
                interrupt.check("show clock")
            except interrupt.Interrupted as exc:
                print("refused", exc)
            with interrupt.config_exchange("r2", "config push (2 lines)"):
                pass
            print("changes", interrupt.changes("r2"), interrupt.changes("r9"))
        else:  # "twice": the second Ctrl-C during r1's config push quits at once
            with interrupt.config_exchange("r1", "config push (3 lines)"):
                print("ready", flush=True)
                time.sleep(60)
    """
)


def _run(mode: str, signals: int = 0) -> tuple[int, str, str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    t0 = time.monotonic()
    if signals:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err, time.monotonic() - t0


def test_ctrl_c_outside_an_operation_raises_at_once() -> None:
    rc, out, err, _ = _run("plain")
    assert rc == 0 and out.strip() == "raised True", out + err


def test_ctrl_c_inside_an_operation_stops_it_cooperatively() -> None:
    rc, out, err, secs = _run("sleep")
    assert rc == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("woke ") and float(lines[0].split()[1]) < 10, lines  # not the 60 s
    assert lines[1] == "refused interrupted (Ctrl-C) before show clock", lines
    # a config exchange that ends is recorded for the host's report; other hosts changed nothing
    assert lines[2] == "changes ['config push (2 lines)'] []", lines
    assert "interrupted: finishing the device exchanges in flight" in err
    assert secs < 30


def test_second_ctrl_c_quits_naming_the_config_exchange_it_cut() -> None:
    rc, out, err, secs = _run("twice", signals=2)
    assert rc == 130, out + err
    assert "r1: outcome unknown: quit during config push (3 lines)" in err, err
    assert "Traceback" not in err
    assert secs < 30  # not the 60 s push
