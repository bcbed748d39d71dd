"""The gate in front of one driver session: how many calls run on it at once, and who goes first.

Plain Python (threads), no Ray. One gate per driver instance:

- at most ``capacity`` calls run at once (the driver's ``max_concurrent_calls``, default 1);
- bulk calls take at most ``bulk_limit`` of those places and never the last one when
  ``capacity > 1``: a control call then always finds a place free and never waits for an array
  round trip of a bulk call (with ``capacity == 1`` it waits for at most the one in flight);
- a waiting control call goes ahead of every waiting bulk call; bulk calls go in arrival order;
- ``drain()`` retires the gate: waiters and newcomers are turned away (``acquire`` answers
  False, the caller goes to the new session) and it returns once the calls in flight are done
  (of both lanes, or of the ones asked for), so the driver can be logged out with nobody using it.
"""
from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Literal, Optional

Lane = Literal["control", "bulk"]


class CallGate:
    def __init__(self, capacity: int = 1, bulk_limit: Optional[int] = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        kept_for_control = 1 if capacity > 1 else 0
        self.bulk_limit = max(1, min(capacity - kept_for_control, bulk_limit or capacity))
        self._cond = threading.Condition()
        self._active = {"control": 0, "bulk": 0}
        self._control_waiting = 0
        self._bulk_queue: collections.deque[int] = collections.deque()
        self._tickets = itertools.count()
        self._retired = False
        self.peak_active = 0

    @property
    def retired(self) -> bool:
        return self._retired

    @property
    def active(self) -> int:
        with self._cond:
            return self._active["control"] + self._active["bulk"]

    def _free(self) -> bool:
        return self._active["control"] + self._active["bulk"] < self.capacity

    def acquire(self, lane: Lane, timeout: Optional[float] = None) -> bool:
        """Wait for a place. False when the gate was retired (use the new session) or on timeout;
        ``retired`` tells the two apart."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if lane == "control":
                self._control_waiting += 1
                try:
                    while not self._retired and not self._free():
                        if not self._wait(deadline):
                            return False
                    if self._retired:
                        return False
                    self._take("control")
                    return True
                finally:
                    self._control_waiting -= 1
                    self._cond.notify_all()
            ticket = next(self._tickets)
            self._bulk_queue.append(ticket)
            try:
                while not self._retired and not self._bulk_may_go(ticket):
                    if not self._wait(deadline):
                        return False
                if self._retired:
                    return False
                self._take("bulk")
                return True
            finally:
                self._bulk_queue.remove(ticket)
                self._cond.notify_all()

    def _bulk_may_go(self, ticket: int) -> bool:
        return (self._control_waiting == 0 and self._free()
                and self._active["bulk"] < self.bulk_limit and self._bulk_queue[0] == ticket)

    def _take(self, lane: Lane) -> None:
        self._active[lane] += 1
        self.peak_active = max(self.peak_active, self._active["control"] + self._active["bulk"])

    def _wait(self, deadline: Optional[float]) -> bool:
        if deadline is None:
            self._cond.wait()
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self._cond.wait(remaining)
        return True

    def release(self, lane: Lane) -> None:
        with self._cond:
            self._active[lane] -= 1
            self._cond.notify_all()

    def retire(self) -> None:
        """Turn every waiter and newcomer away from now on (they go to the new session)."""
        with self._cond:
            self._retired = True
            self._cond.notify_all()

    def drain(self, timeout: Optional[float] = None, lanes: tuple[Lane, ...] = ("control", "bulk")) -> bool:
        """Retire the gate and wait until no call of ``lanes`` runs; True if they emptied within
        ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._retired = True
            self._cond.notify_all()
            while any(self._active[lane] for lane in lanes):
                if not self._wait(deadline):
                    return False
            return True
