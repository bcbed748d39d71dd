"""A storage's collection state, reported to the supervisor off the collection thread (plain
Python, no Ray: ``send`` is whatever reaches the supervisor).

The scheduler's tick used to wait for each report. A supervisor that is slow (a registration
storm) or whose node just died (its calls hang until Ray declares the node dead) then held
every storage's next window, and its array session sat idle meanwhile; a report that failed
dropped the windows it said were lost, so their count and their WindowLost alert never reached
the registry. Here a tick only ``offer``s its state and goes on:

- the latest high-water mark and pending set replace any not yet sent (they are a snapshot:
  only the newest matters), one report in flight at a time;
- windows lost are kept until a report carrying them was acknowledged, and offered again
  with every report until then. The supervisor records each lost window once (its registry
  keeps a high-water mark of lost windows), because a report that timed out may still land.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from .session_state import Backoff

log = logging.getLogger("delfin_dm.scheduler")

Window = tuple[int, int, str]          # start_ms, end_ms, reason it is pending or lost


class CollectionReporter:
    def __init__(self, send: Callable[[int, list[Window], list[Window]], Any], stop: threading.Event,
                 label: str = "", backoff_base_s: float = 0.5, backoff_cap_s: float = 10.0) -> None:
        self._send = send
        self._label = label                    # names the storage in the log
        self._stop = stop
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._cond = threading.Condition()
        self._state: Optional[tuple[int, list[Window]]] = None   # newest (last_end, pending) not yet sent
        self._lost: list[Window] = []                             # lost windows not yet acknowledged
        self._in_flight = False
        self._thread: Optional[threading.Thread] = None
        self.failures = 0                                         # reports not acknowledged (stats)

    def offer(self, last_end: int, pending: list[Window], lost: list[Window]) -> None:
        """The tick's state; never blocks on the supervisor."""
        with self._cond:
            self._state = (last_end, list(pending))
            self._lost.extend(lost)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="collection-report")
                self._thread.start()
            self._cond.notify_all()

    def unsent(self) -> tuple[bool, int]:
        """(a state not yet acknowledged, lost windows not yet acknowledged)."""
        with self._cond:
            return self._state is not None or self._in_flight, len(self._lost)

    def wait_idle(self, timeout: float) -> bool:
        """True once everything offered was acknowledged (tests, a clean stop)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._state is None and not self._in_flight, timeout)

    def _run(self) -> None:
        backoff = Backoff(*self._backoff)
        while not self._stop.is_set():
            with self._cond:
                while self._state is None:
                    self._cond.wait(1.0)
                    if self._stop.is_set():
                        return
                (last_end, pending), lost = self._state, list(self._lost)
                self._state, self._in_flight = None, True
            try:
                self._send(last_end, pending, lost)
            except Exception as exc:   # supervisor restarting or busy: the newest state goes next
                self.failures += 1
                log.warning("%s: collection state not recorded yet: %s", self._label, type(exc).__name__)
                with self._cond:
                    if self._state is None:
                        self._state = (last_end, pending)
                    self._in_flight = False
                    self._cond.notify_all()
                self._stop.wait(backoff.next_delay())
                continue
            backoff.reset()
            with self._cond:
                del self._lost[:len(lost)]       # those offered meanwhile stay for the next report
                self._in_flight = False
                self._cond.notify_all()
