"""Reports from a storage actor to the supervisor, delivered in order and retried until
acknowledged (plain Python, no Ray: ``send`` is whatever reaches the supervisor).

A state change (``auth_failed``, ``unreachable``, ``ready``) is what raises alerts and asks the
credentials script; losing one because the supervisor restarted at that moment would leave a
storage silently stuck. So each report is retried with backoff until ``send`` returns; the
supervisor's handlers are idempotent, which makes at-least-once delivery safe.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable, Optional

from .session_state import Backoff

log = logging.getLogger("delfin_dm.reporter")

Report = tuple[str, tuple]          # supervisor method name, arguments


class StateReporter:
    def __init__(self, send: Callable[[str, tuple], Any], stop: threading.Event,
                 backoff_base_s: float = 0.5, backoff_cap_s: float = 10.0) -> None:
        self._send = send
        self._stop = stop
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._queue: collections.deque[Report] = collections.deque()
        self._cond = threading.Condition()
        self.delivered = 0
        self.attempts = 0
        self._thread: Optional[threading.Thread] = None

    def report(self, method: str, *args: Any) -> None:
        """Queue one report (never blocks; safe under any lock)."""
        with self._cond:
            self._queue.append((method, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="reporter")
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued report was acknowledged (tests, clean shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._queue:
                    self._cond.wait(1.0)
                    if self._stop.is_set():
                        return
                method, args = self._queue[0]
            backoff = Backoff(*self._backoff)
            while True:
                self.attempts += 1
                try:
                    self._send(method, args)
                    break
                except Exception as exc:  # supervisor restarting or busy: try again
                    log.warning("report %s not acknowledged yet: %s", method, type(exc).__name__)
                    if self._stop.wait(backoff.next_delay()):
                        return
            with self._cond:
                self._queue.popleft()
                self.delivered += 1
                self._cond.notify_all()
