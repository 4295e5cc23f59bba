"""The answer pool: a drain finishes what it can and tells the askers of the rest, never silence."""

from __future__ import annotations

import threading

from bot.work import RESTARTING, Work


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
