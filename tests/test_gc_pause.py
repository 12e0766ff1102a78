"""The garbage collector paused around bulk work (iospki.gc_pause): restored afterwards, counted across
threads, and the forecast leaves no garbage cycle for the next collection to find."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from iospki import forecast as fc
from iospki.gc_pause import PAUSED
from tests.test_forecast import DAY0, ca_730, client


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after(collector_on: None) -> None:
    with PAUSED:
        assert not gc.isenabled()
        with PAUSED:  # nested: the inner exit must not turn it back on
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with PAUSED:
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_restored_after_an_exception(collector_on: None) -> None:
    with pytest.raises(ValueError), PAUSED:
        raise ValueError("boom")
    assert gc.isenabled()


def test_overlapping_threads_turn_it_on_only_when_the_last_leaves(collector_on: None) -> None:
    """Two threads of a worker: the first leaves while the second is still inside."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with PAUSED:
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with PAUSED:
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first left": False}
    assert gc.isenabled()


def test_the_forecast_leaves_no_garbage_cycle(collector_on: None) -> None:
    """A CA and its clients point at each other in the simulator; left uncut, every forecast would leave
    them for a collection to find (4 objects a client), and a forecast run under the pause would hold them
    until the next one."""
    cas, tps = [ca_730(90)], [client(i, name=f"R{i}") for i in range(20)]
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage to be looked at
    try:
        result = fc.simulate(cas, tps, DAY0, DAY0 + timedelta(days=3 * 365))
        assert result.events  # the forecast did run its rules
        del result
        gc.collect()
        # other tests' threads (Dask's, the lab's) may drop cycles of their own meanwhile: count only ours
        ours = [o for o in gc.garbage if type(o).__module__ in ("iospki.forecast.simulator", "iospki.pki.inputs")]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    fc.simulate(cas, tps, DAY0, DAY0 + timedelta(days=365))
    assert gc.isenabled()
