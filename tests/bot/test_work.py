"""The answer pool: a drain finishes what it can and tells the askers of the rest, never silence."""

from __future__ import annotations

import threading
import time

import pytest

from bot.work import RESTARTING, Lull, Work


def test_drain_waits_for_answers_in_flight() -> None:
    work = Work(2)
    release = threading.Event()
    done: list[int] = []
    told: list[str] = []
    for i in range(2):
        work.submit(lambda i=i: (release.wait(10), done.append(i)), on_error=told.append)
    threading.Timer(0.05, release.set).start()
    assert work.drain(30) == 0
    assert sorted(done) == [0, 1] and told == []


def test_drain_tells_the_askers_it_cannot_wait_for() -> None:
    work = Work(1)
    stuck = threading.Event()
    told: list[str] = []
    work.submit(stuck.wait, 30, on_error=told.append)  # running, never finishes in time
    work.submit(lambda: None, on_error=told.append)  # queued behind it
    assert work.drain(0.05) == 2
    assert told == [RESTARTING, RESTARTING]
    # After a drain nothing new is taken: the asker hears why at once.
    assert work.submit(lambda: None, on_error=told.append) is False
    assert told[-1] == RESTARTING
    stuck.set()


def test_a_retry_waiting_on_its_timer_counts_as_in_flight() -> None:
    work = Work(1)
    ran = threading.Event()
    told: list[str] = []
    work.later(0.2, ran.set, on_error=told.append)
    assert work.in_flight == 1
    assert work.drain(30) == 0  # waited for the timer and the job
    assert ran.is_set() and told == []


def test_a_burst_starts_with_eight_requests_in_a_window_and_ends_after_a_pause() -> None:
    lull = Lull(burst_requests=8, window_s=0.1, end_s=0.25)
    for _ in range(7):
        lull.request()
    assert not lull.busy()  # seven: a few commands at once are not a burst
    lull.request()
    last = lull._recent[-1]
    assert lull.busy(last + 0.2)  # the pace may waver: still a burst until a pause of end_s
    assert not lull.busy(last + 0.26)
    assert not lull.busy(last + 0.1)  # over until the pace makes a burst again


def _burst(lull: Lull, stop: threading.Event) -> None:
    while not stop.is_set():
        lull.request()
        time.sleep(0.002)


@pytest.mark.slow  # sleeps through a real burst (wall time, not CPU)
def test_answers_wait_for_a_burst_of_requests_to_end() -> None:
    lull = Lull(max_defer_s=30)
    work = Work(2, lull=lull)
    stop = threading.Event()
    feeder = threading.Thread(target=_burst, args=(lull, stop))
    feeder.start()
    ran_at: list[float] = []
    try:
        while not lull.busy():
            time.sleep(0.01)
        for _ in range(3):
            work.submit(lambda: ran_at.append(time.monotonic()))
        time.sleep(0.5)
        assert ran_at == []  # held back while the requests keep coming
    finally:
        stop.set()
        feeder.join()
    ended = time.monotonic()
    assert work.wait_idle(10)
    assert len(ran_at) == 3 and min(ran_at) >= ended


@pytest.mark.slow  # sleeps through a real burst (wall time, not CPU)
def test_answers_wait_no_longer_than_the_deferral_bound() -> None:
    lull = Lull(max_defer_s=0.3)
    work = Work(1, lull=lull)
    stop = threading.Event()
    feeder = threading.Thread(target=_burst, args=(lull, stop))
    feeder.start()
    try:
        while not lull.busy():
            time.sleep(0.01)
        ran = threading.Event()
        work.submit(ran.set)
        assert ran.wait(10)  # ran although the burst goes on
        assert lull.busy()
    finally:
        stop.set()
        feeder.join()


def test_outside_a_burst_answers_start_at_once() -> None:
    lull = Lull(max_defer_s=30)
    work = Work(1, lull=lull)
    lull.request()  # one command: not a burst
    ran = threading.Event()
    work.submit(ran.set)
    assert ran.wait(10)
