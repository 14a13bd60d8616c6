"""The collector pause around bulk loads: always restored, shared by nested and parallel
loads, and garbage cycles made meanwhile (by another thread, say a UI) are collected after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from agentwatch.infra import gcpause


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_during_a_load_and_back_after() -> None:
    with gcpause.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_in_the_load_still_turns_it_back_on() -> None:
    with pytest.raises(ZeroDivisionError), gcpause.paused():
        _ = 1 / 0
    assert gc.isenabled()


def test_a_nested_load_does_not_end_the_outer_pause() -> None:
    with gcpause.paused():
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_caller_had_turned_off_stays_off() -> None:
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()


def test_loads_on_two_threads_share_one_pause() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gcpause.paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    assert inside.wait(10)
    with gcpause.paused():
        pass
    assert not gc.isenabled()  # the other thread's load is still running
    release.set()
    t.join(10)
    assert gc.isenabled()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_made_during_a_pause_are_collected_afterwards() -> None:
    import weakref  # noqa: PLC0415

    with gcpause.paused():
        c = _Cycle()
        gone = weakref.ref(c)
        del c
        assert gone() is not None  # only the cycle collector can free it
    gc.collect()
    assert gone() is None
