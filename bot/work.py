"""The pool that answers after the ack, and what it has in flight (so a stop can finish or explain it).

Answers give way to acks: an answer costs about ten times the CPU of an ack (estimate, database
write, Slack post) and runs in the same process, so under a burst of commands the answers starved the
one thread that accepts, reads and writes every connection (each of its socket calls gave up the GIL
and waited for an answer thread to hand it back). While requests come in a burst, a job waits for the
burst to end, or ``MAX_DEFER_S`` at most (so answers are never starved); outside one it starts at once.

The threads are daemons: a stop waits for the answers in flight as long as it can afford, tells the
askers of the rest, and then exits even if a thread is still stuck on a hung upstream (Python joins
``concurrent.futures`` threads at exit, which would hold the process past the orchestrator's kill).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

RESTARTING = "vram is restarting and could not finish this answer: please ask again in a minute."

Tell = Callable[[str], None]

# A burst starts with BURST_REQUESTS requests within BURST_WINDOW_S (80 a second: a busy workspace's
# steady traffic stays far below, so its answers never wait) and lasts until no request came for
# BURST_END_S (not until the pace drops: on a loaded machine it wavers, and each answer let in slowed
# the acks further). Under a burst an answer waits at most MAX_DEFER_S.
BURST_REQUESTS = 8
BURST_WINDOW_S = 0.1
BURST_END_S = 0.25
MAX_DEFER_S = 5.0
_POLL_S = 0.02


class Lull:
    """The request side's recent pace; ``wait`` holds an answer back while requests come in a burst."""

    def __init__(
        self,
        *,
        burst_requests: int = BURST_REQUESTS,
        window_s: float = BURST_WINDOW_S,
        end_s: float = BURST_END_S,
        max_defer_s: float = MAX_DEFER_S,
    ) -> None:
        self.window_s = window_s
        self.end_s = end_s
        self.max_defer_s = max_defer_s
        self._recent: deque[float] = deque(maxlen=burst_requests)
        self._last = float("-inf")
        self._burst = False
        # One waiting worker polls the pace; the others block on this lock (no wake-ups of their own).
        self._poller = threading.Lock()

    def request(self) -> None:
        """A request came in (called by the HTTP side before it acks: no lock, plain stores)."""
        now = time.monotonic()
        self._last = now
        recent = self._recent
        recent.append(now)
        if len(recent) == recent.maxlen and now - recent[0] < self.window_s:
            self._burst = True

    def busy(self, now: float | None = None) -> bool:
        """True from a burst's start until no request came for ``end_s``."""
        if not self._burst:
            return False
        if (time.monotonic() if now is None else now) - self._last >= self.end_s:
            self._burst = False  # a request racing this sets it again if the pace is still a burst
            return False
        return True

    def wait(self, since: float) -> None:
        """Return at once outside a burst; under one, when it ends or ``max_defer_s`` after ``since``."""
        deadline = since + self.max_defer_s
        now = time.monotonic()
        if now >= deadline or not self.busy(now):
            return
        if not self._poller.acquire(timeout=deadline - now):
            return
        try:
            while (now := time.monotonic()) < deadline and self.busy(now):
                time.sleep(_POLL_S)
        finally:
            self._poller.release()


class Work:
    """``submit`` runs a job on one of ``workers`` daemon threads; ``drain`` stops taking jobs and waits."""

    def __init__(self, workers: int, *, name: str = "vram-work", lull: Lull | None = None) -> None:
        self.lull = lull or Lull()
        self._jobs: queue.SimpleQueue[tuple[float, Callable[[], None]] | None] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._inflight: dict[int, Tell | None] = {}
        self._next = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, daemon=True, name=f"{name}-{i}") for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            queued_at, job = item
            self.lull.wait(queued_at)
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

        self._jobs.put((time.monotonic(), job))

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
