"""What became of a registration whose caller stopped waiting.

A caller waits ``Config.connect_deadline_s`` for a registration. On a node too busy to run the
supervisor on time, the registration can still be under way then; committed afterwards, it
would register a storage its caller was told had failed (and the caller's retry would hear
StorageAlreadyExists). So a caller names each registration with a request id, and when its
wait runs out it asks the supervisor to settle it: either the registration was committed (the
caller gets the storage, late) or it is called off, and a later attempt to commit it rolls it
back instead. A settle that meets its own registration's commit under way waits for it, so
exactly one of the two happens; the registry write itself runs outside the lock, so a settle
or a new registration never waits for another registration's commit.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from drivers.errors import StorageBackendException

CALLED_OFF = "the caller stopped waiting; the registration was called off"
_COMMITTING = "\0committing"       # never a storage id (those are uuids)


class RegistrationRequests:
    """Request id -> the storage id it registered, ``_COMMITTING``, or None once called off.
    An outcome is kept ``keep_s`` (long past any caller's wait), then forgotten."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._cond = threading.Condition()
        self._outcomes: dict[str, tuple[float, Optional[str]]] = {}

    def _called_off(self, request_id: Optional[str]) -> bool:
        return request_id in self._outcomes and self._outcomes[request_id][1] is None

    def check(self, request_id: Optional[str]) -> None:
        """Before any login: a registration already called off does not start."""
        with self._cond:
            if self._called_off(request_id):
                raise StorageBackendException(CALLED_OFF)

    @contextmanager
    def commit(self, request_id: Optional[str]) -> Iterator[Callable[[str], None]]:
        """StorageBackendException if the caller called it off; else the body persists the
        storage, then calls the yielded function with its id. A body that raises leaves no
        outcome: a settle then calls the request off (nothing was registered)."""
        if request_id is None:
            yield lambda storage_id: None
            return
        with self._cond:
            if self._called_off(request_id):
                raise StorageBackendException(CALLED_OFF)
            self._record(request_id, _COMMITTING)
        registered: list[str] = []
        try:
            yield registered.append
        finally:
            with self._cond:
                if registered:
                    self._record(request_id, registered[0])
                else:
                    self._outcomes.pop(request_id, None)
                self._cond.notify_all()

    def settle(self, request_id: str, wait_s: float) -> Optional[str]:
        """The storage id the request registered; else None, and the request is called off.
        A commit of this request under way is waited for up to ``wait_s``; after that its
        outcome is unknown (StorageBackendException)."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._outcomes.get(request_id, (0.0, None))[1] == _COMMITTING:
                if not self._cond.wait(deadline - time.monotonic()):
                    raise StorageBackendException("the registration is still being committed")
            outcome = self._outcomes.get(request_id)
            if outcome is not None and outcome[1] is not None:
                return outcome[1]
            self._record(request_id, None)
            return None

    def _record(self, request_id: str, outcome: Optional[str]) -> None:
        """Under the lock."""
        now = time.monotonic()
        for key in [k for k, (at, o) in self._outcomes.items() if at < now - self.keep_s and o != _COMMITTING]:
            del self._outcomes[key]
        self._outcomes[request_id] = (now, outcome)
