"""Ownership changes pushed to storage actors: the supervisor's board and the actor's watch loop.

A storage actor must stop and log out once the supervisor committed a newer owner (a higher
epoch) or forgot the storage; a twin left behind by a partition is the case this exists for.
Nobody can address that twin (the storage's name and actor id belong to its successor), so the
twin asks. Asking the supervisor every few seconds cost every storage actor and the supervisor
CPU for nothing: one Ray call per storage per ``fence_interval_s`` (measured: 0.26 ms of the
supervisor's CPU and ~2 ms of the actor's per check).

Instead each actor long-polls the supervisor's ``OwnershipBoard``: a small async actor that
holds one version counter per storage, bumped by the supervisor after every commit (epoch,
registration, removal). ``watch(storage_id, seen)`` answers at once when the version differs
from ``seen``, else when it changes or after ``hold_s``. The board only says *when* to look:
what the owner is, the actor then asks the supervisor (the registry is the truth), so a board
that restarted and lost its counters can delay a check by at most ``hold_s``, never falsify one.
The board is a detached named actor beside the supervisor (``ensure_board``): it outlives the
supervisor's restarts and is stopped with it (``runtime.stop_supervisor``).

Order makes it exact: the actor reads the version *before* it asks the supervisor, and the
supervisor bumps it *after* it commits. A commit the actor's question missed therefore bumped
the version after it was read, and the next ``watch`` answers at once (tested by forcing that
interleaving: tests/rayactors/test_ownership.py).
"""
from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import Any, Callable, Optional

from .naming import board_name

log = logging.getLogger("delfin_dm.ownership")

#: pending watches the board holds at once (one per storage actor); an async actor's waiting
#: call costs a coroutine, not a thread
MAX_WATCHERS = 100_000
#: how long a storage actor waits before asking the board again after it could not reach it
RETRY_S = 2.0


class OwnershipBoard:
    """Version counters per storage, for storage actors to wait on (long poll)."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._waiters: dict[str, set[asyncio.Future]] = {}

    async def changed(self, storage_id: str) -> None:
        """Called by the supervisor after it committed something about ``storage_id``."""
        self._versions[storage_id] = self._versions.get(storage_id, 0) + 1
        for fut in self._waiters.pop(storage_id, ()):
            if not fut.done():
                fut.set_result(None)

    async def watch(self, storage_id: str, seen: Optional[int], hold_s: float) -> int:
        """The version of ``storage_id``: at once when it is not ``seen``, else once it changes
        or ``hold_s`` passed."""
        version = self._versions.get(storage_id, 0)
        if seen != version:
            return version
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(storage_id, set()).add(fut)
        try:
            await asyncio.wait_for(fut, hold_s)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(storage_id)
            if waiting is not None:
                waiting.discard(fut)
                if not waiting:
                    del self._waiters[storage_id]
        return self._versions.get(storage_id, 0)

    async def watchers(self) -> int:
        return sum(len(w) for w in self._waiters.values())


def board_class(num_cpus: float) -> Any:
    import ray
    return ray.remote(num_cpus=num_cpus, max_restarts=-1, max_task_retries=0,
                      max_concurrency=MAX_WATCHERS)(OwnershipBoard)


def ensure_board(supervisor_name: str, namespace: str, num_cpus: float) -> Any:
    """The board of the supervisor named ``supervisor_name``, created by its first incarnation.

    Detached and named, so it outlives a supervisor restart: the actors' watches go on, and a
    restarted supervisor is not met by every storage actor's check at once (with a board that
    died with it, N actors asked it, and looked the new board up, within the same 2 s)."""
    return board_class(num_cpus).options(name=board_name(supervisor_name), namespace=namespace,
                                         lifetime="detached", get_if_exists=True).remote()


def follow(watch: Callable[[Optional[int]], int], check: Callable[[], Optional[bool]], stopped: threading.Event,
           interval_s: float) -> None:
    """The storage actor's fence loop: wait for a change (``watch``, the board), then ``check``
    with the supervisor; ``check`` returns True when the actor stopped being an owner, False
    when it still is, None when it could not ask.

    ``watch(seen)`` blocks until the board's version differs from ``seen`` or ``interval_s``
    passed. When the board cannot be reached (``watch`` raises) or the supervisor could not be
    asked, the loop checks again about every ``RETRY_S`` (at most ``interval_s``) until both
    answer: a wake-up whose check failed is not waited out for ``interval_s``."""
    seen: Optional[int] = None
    while not stopped.is_set():
        try:
            seen = watch(seen)
        except Exception as exc:  # board restarting: check, then try again
            log.debug("ownership board not reachable: %s", type(exc).__name__)
            seen = None
            if _pause(stopped, interval_s):
                return
        while True:
            owner_gone = check()
            if owner_gone is not None:
                break
            if _pause(stopped, interval_s):
                return
        if stopped.is_set() or owner_gone:
            return


def _pause(stopped: threading.Event, interval_s: float) -> bool:
    """Wait about ``RETRY_S`` (jittered: a restart fails every actor's call at once); True if
    the actor stopped meanwhile."""
    return stopped.wait(min(RETRY_S * random.uniform(0.5, 1.5), interval_s))
