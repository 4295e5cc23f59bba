"""The pool that answers after the ack, and what it has in flight (so a stop can finish or explain it).

The threads are daemons: a stop waits for the answers in flight as long as it can afford, tells the
askers of the rest, and then exits even if a thread is still stuck on a hung upstream (Python joins
``concurrent.futures`` threads at exit, which would hold the process past the orchestrator's kill).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

RESTARTING = "vram is restarting and could not finish this answer: please ask again in a minute."

Tell = Callable[[str], None]


class Work:
    """``submit`` runs a job on one of ``workers`` daemon threads; ``drain`` stops taking jobs and waits."""

    def __init__(self, workers: int, *, name: str = "vram-work") -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._inflight: dict[int, Tell | None] = {}
        self._next = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, daemon=True, name=f"{name}-{i}") for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException:  # the job's own guard logs; a worker never dies of it
                log.exception("work job failed")

    def _track(self, on_error: Tell | None) -> int | None:
        """A key for a job now in flight; None (its asker told why) once the pool is draining."""
        with self._lock:
            if self._closed:
                key = None
            else:
                self._next += 1
                key = self._next
                self._inflight[key] = on_error
        if key is None:
            tell(on_error, RESTARTING)
        return key

    def _queue(self, key: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        def job() -> None:
            try:
                fn(*args)
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
                    self._lock.notify_all()

        self._jobs.put(job)

    def submit(self, fn: Callable[..., Any], *args: Any, on_error: Tell | None = None) -> bool:
        """Queue ``fn(*args)``; False (and ``on_error`` told why) once the pool is draining."""
        key = self._track(on_error)
        if key is None:
            return False
        self._queue(key, fn, args)
        return True

    def later(self, delay_s: float, fn: Callable[..., Any], *args: Any, on_error: Tell | None = None) -> None:
        """Submit after ``delay_s`` without holding a worker meanwhile (a timer thread waits instead).

        The wait counts as in flight: a drain waits for it too, or tells its asker.
        """
        key = self._track(on_error)
        if key is None:
            return

        def fire() -> None:
            with self._lock:
                given_up = key not in self._inflight  # a drain told its asker already
            if not given_up:
                self._queue(key, fn, args)  # still in flight under the same key until it has run

        timer = threading.Timer(delay_s, fire)
        timer.daemon = True
        timer.start()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def drain(self, timeout_s: float) -> int:
        """Take no new jobs; wait up to ``timeout_s`` for those in flight; tell the askers of the rest.

        Returns how many could not finish. Jobs already queued (or retries waiting on a timer) count as
        in flight: they run if time allows.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._closed = True
            while self._inflight and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            unfinished = list(self._inflight.values())
            self._inflight.clear()
        for on_error in unfinished:
            tell(on_error, RESTARTING)
        if unfinished:
            log.warning("stopped with %d answer(s) unfinished: their askers were told to ask again", len(unfinished))
        for _ in self._threads:
            self._jobs.put(None)
        return len(unfinished)

    def wait_idle(self, timeout_s: float = 30) -> bool:
        """Wait until nothing is in flight (tests)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._inflight and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return not self._inflight


def tell(on_error: Tell | None, sentence: str) -> None:
    """Tell a user ``sentence`` through ``on_error``; a failure to tell is logged, never raised."""
    if on_error is None:
        return
    try:
        on_error(sentence)
    except Exception:  # the user cannot be told either: the log is all we have
        log.exception("could not report an error to the user")
