"""The session core: one storage's driver instance, state machine, connect/swap/close and epochs.

Plain Python (threads), no Ray: the storage actor is a thin shell around it, and every
interleaving can be forced in a test with events. The rules it keeps:

- **No array call under the state lock.** Logins, calls and logouts run outside it; the lock
  only guards the fields below, so ``snapshot()`` answers while the array hangs.
- **One call at a time on a session** unless the driver declares more
  (``StorageDriver.max_concurrent_calls``); control calls go ahead of queued bulk calls
  (``CallGate``).
- **Make before break.** ``connect`` logs in on a new driver and checks the serial number; only
  then the new session replaces the old one, whose gate is drained (calls in flight finish,
  queued calls move to the new session) before it is logged out. ``connect`` waits for the
  control calls in flight on the old session (one round trip each), never for its bulk calls (a
  sync or a collection: many round trips): those finish undisturbed and a thread logs the old
  session out right after them. A later login (another update) or ``close`` first waits for
  that, up to ``close_timeout_s``, so the array never sees more than two sessions of a storage.
  A swapped-out or closed driver is never called again, so it never logs in again.
- **Single flight.** Identical connects in flight share one login; a connect that finishes
  after a newer one was installed, or after ``close``/fencing, is refused and its fresh session
  logged out.
- **Credentials.** A failed update never changes the state of the session it meant to replace.
  Credentials the array rejected are never used again by anything automatic (prober, restart
  recovery); only new access info (``origin="update"``) logs in.
- **Epochs.** ``fence(committed)`` closes the core when another owner confirmed a higher epoch;
  epochs of connects still in flight count as ours, so a rightful owner is never fenced by its
  own pending connect.

- **Leave no session behind a kill -9.** Every open session's handle (the driver's
  ``session_handle()``, a REST token) is published to the shell, which keeps it sealed with the
  supervisor. A restarted core adopts its predecessor's handles as orphans and ends them
  (``release_session``, no login) before its own next login; one the array cannot take now is
  tried again before later logins, ``MAX_RELEASE_TRIES`` times.
- **Keep the session through an outage.** A connection error parks the session instead of
  logging it out (the array cannot be reached to log out anyway). The prober first tries the
  parked session again: the array usually still holds it, so an outage costs no login and
  leaves no orphaned session behind. Only when the array rejects it (the driver's own re-login
  failed) or its last call never returns does the prober log in afresh.

    connecting --> ready <--> unreachable (prober: backoff, the parked session, then a fresh login)
        |            |             |
        +------------+-------------+--> auth_failed --(update)--> ready
    any --> closed
"""
from __future__ import annotations

import collections
import hashlib
import inspect
import json
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional

from drivers import DRIVER_METHODS, AccessInfo
from drivers.access_info import reveal_secret
from drivers.errors import (DelfinError, InvalidInput, InvalidUsernameOrPassword, NotSupported,
                            StorageBackendException, StorageNotFound, StorageSerialNumberMismatch)
from drivers.models import validate_storage

from .call_gate import CallGate, Lane
from .session_state import Backoff, SessionState, as_delfin, state_for

log = logging.getLogger("delfin_dm.session")
#: tries of a parked session that the array answers with an error (not a connection failure,
#: not a rejection) before the prober gives up on it and logs in afresh
MAX_ODD_REVIVALS = 5
#: abandoned connect ids kept (``abandon``); each is dropped when its connect ends
MAX_ABANDONED = 64
#: tries to end one session a killed predecessor left, before leaving it to the array's idle timeout
MAX_RELEASE_TRIES = 5

#: why a connect happens: ``update`` is new access info from the operator (or the credentials
#: script); the others reuse the storage's own access info and are refused once it was rejected.
Origin = Literal["register", "update", "recover", "probe"]
#: called with the state lock held, in order: it must not block (the actor queues a report)
StateListener = Callable[[SessionState, SessionState, Optional[dict]], None]
#: called with the state lock held whenever the set of open session handles changes
SessionsListener = Callable[[list[str]], None]
#: ends a left-over session by its handle without logging in (the driver class's release_session)
Releaser = Callable[[AccessInfo, str], None]


def fingerprint(access: AccessInfo) -> str:
    """A digest of everything a login uses: tells new credentials from rejected ones."""
    return hashlib.sha256(json.dumps(access.reveal(), sort_keys=True, default=str).encode()).hexdigest()


@dataclass(eq=False)
class _Slot:
    """One logged-in driver and the gate in front of it."""

    driver: Any
    gate: CallGate
    fingerprint: str
    logging_out: bool = False          # set once, under the core's lock: one logout per session
    logged_out: threading.Event = field(default_factory=threading.Event)


class SessionCore:
    def __init__(self, storage_id: str, build: Callable[[AccessInfo], Any], *, bulk_inflight: int = 4,
                 call_timeout_s: float = 120.0, close_timeout_s: float = 10.0, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 60.0, on_state: Optional[StateListener] = None,
                 release: Optional[Releaser] = None, on_sessions: Optional[SessionsListener] = None) -> None:
        self.storage_id = storage_id
        self._build = build
        self.bulk_inflight = bulk_inflight
        self.call_timeout_s = call_timeout_s
        self.close_timeout_s = close_timeout_s
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._on_state = on_state
        self._release = release
        self._on_sessions = on_sessions
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = SessionState.CONNECTING
        self._since = time.time()
        self._slot: Optional[_Slot] = None
        self._access: Optional[AccessInfo] = None
        self._storage: Optional[dict] = None
        self._last_error: Optional[dict] = None
        self._rejected: set[str] = set()
        self._epoch = 0
        self._pending_epochs: collections.Counter = collections.Counter()
        #: connects the supervisor stopped waiting for (``abandon``), by attempt id, and the
        #: attempt that installed the current session
        self._abandoned: dict[str, None] = {}
        self._installed_attempt: Optional[str] = None
        self._ticket = 0
        self._installed_ticket = 0
        self._inflight: dict[tuple, Future] = {}
        self._closed = False
        self._stop = threading.Event()
        self._prober: Optional[threading.Thread] = None
        self._retiring: set[_Slot] = set()   # old sessions being drained before their logout
        self._handed_over: set[_Slot] = set()  # of those, the ones a thread logs out after bulk calls
        #: the session dropped by a connection error, kept for the prober to try again; while the
        #: prober tries it, it is ``_reviving`` (owned by the prober thread alone)
        self._parked: Optional[_Slot] = None
        self._reviving: Optional[_Slot] = None
        self._odd_revivals = 0             # tries of the parked session the array answered with an error
        #: session handles: of every driver logged in and not yet logged out (by ``id``), and of
        #: the sessions a killed predecessor left (with the tries to end each)
        self._handles: dict[int, Optional[str]] = {}
        self._orphans: dict[str, int] = {}
        self._published: tuple[str, ...] = ()
        self.counters = {"logins": 0, "failures": 0, "logouts": 0, "refused_connects": 0, "probes": 0,
                         "revivals": 0, "released": 0}

    # -- reading ------------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def claimed_epoch(self) -> int:
        """Our epoch counting connects still in flight, as ``fence`` does: what a report is
        stamped with. A session reported by an update's new login leaves before the connect
        raises ``epoch``; stamped with the old one, it would be dropped as stale by a
        supervisor that committed the new epoch before reading it."""
        with self._lock:
            return self._mine()

    def _mine(self) -> int:
        """Under the lock."""
        return max([self._epoch, *self._pending_epochs])

    @property
    def access(self) -> Optional[AccessInfo]:
        return self._access

    @property
    def stopped(self) -> threading.Event:
        """Set once the core is closed: background loops of the shell stop on it."""
        return self._stop

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            slot = self._slot
            return {"storage_id": self.storage_id, "state": self._state.value, "since": self._since,
                    "last_error": self._last_error, "logins": self.counters["logins"],
                    "failures": self.counters["failures"], "logouts": self.counters["logouts"],
                    "probes": self.counters["probes"], "revivals": self.counters["revivals"],
                    "released": self.counters["released"], "orphans": len(self._orphans),
                    "epoch": self._epoch, "serial_number": (self._storage or {}).get("serial_number"),
                    "sessions": sum(1 for s in (slot, self._parked, self._reviving) if s) + len(self._retiring),
                    "calls_in_flight": slot.gate.active if slot else 0,
                    "max_concurrent_calls": slot.gate.capacity if slot else None}

    # -- connect ------------------------------------------------------------------------------
    def connect(self, access: Any, expected_serial: Optional[str] = None, epoch: Optional[int] = None,
                origin: Origin = "update", attempt: Optional[str] = None) -> dict:
        """Log in with ``access`` and make it the session; returns the array's storage dict.

        On failure the current session, if any, is untouched and the error is raised.
        ``attempt`` names this connect for ``abandon``.
        """
        access = AccessInfo.parse(access)
        fp = fingerprint(access)
        key = (fp, None if expected_serial is None else str(expected_serial), origin == "update")
        with self._lock:
            self._raise_if_closed()
            if attempt is not None and attempt in self._abandoned:
                del self._abandoned[attempt]
                raise _gave_up(self.storage_id)
            if origin != "update" and fp in self._rejected:
                raise InvalidUsernameOrPassword(
                    f"storage {self.storage_id}: the array rejected these credentials; update the access info")
            if epoch is not None:
                self._pending_epochs[int(epoch)] += 1
            running = self._inflight.get(key)
            owner = running is None
            if owner:
                running = self._inflight[key] = Future()
                self._ticket += 1
                ticket = self._ticket
        try:
            if not owner:                     # the same login is under way: share its outcome
                storage = running.result()
                if epoch is not None:
                    with self._lock:
                        self._epoch = max(self._epoch, int(epoch))
                return storage
            try:
                storage = self._connect_once(access, fp, expected_serial, epoch, origin, ticket, attempt)
            except BaseException as exc:
                running.set_exception(exc)
                raise
            running.set_result(storage)
            return storage
        finally:
            with self._lock:
                if owner:
                    self._inflight.pop(key, None)
                    if attempt is not None:
                        self._abandoned.pop(attempt, None)
                if epoch is not None:
                    self._pending_epochs[int(epoch)] -= 1
                    if self._pending_epochs[int(epoch)] <= 0:
                        del self._pending_epochs[int(epoch)]

    def abandon(self, attempt: str) -> Optional[dict]:
        """The supervisor stopped waiting for the connect named ``attempt``: the storage dict when
        that connect installed the session already (the supervisor then keeps it), else None, and
        the connect is refused when it starts or ends (a session it made is logged out). So a
        connect the supervisor reported as failed never changes the session later."""
        with self._lock:
            if attempt == self._installed_attempt and self._storage is not None:
                return dict(self._storage)
            self._abandoned[attempt] = None
            while len(self._abandoned) > MAX_ABANDONED:        # ids of connects that had ended
                del self._abandoned[next(iter(self._abandoned))]
            return None

    def _connect_once(self, access: AccessInfo, fp: str, expected_serial: Optional[str],
                      epoch: Optional[int], origin: Origin, ticket: int, attempt: Optional[str] = None) -> dict:
        if self._orphans:
            self.release_orphans(access)      # end what a killed predecessor left, before logging in
        with self._lock:
            lingering = list(self._handed_over)
        for slot in lingering:                # at most two sessions: the old one is done first
            self._drain_and_logout(slot, self.close_timeout_s)
        with self._lock:
            self.counters["logins"] += 1
        try:
            driver = self._build(access)
        except BaseException as exc:
            err = as_delfin(exc)
            self._connect_failed(err, fp, origin, access)
            _reraise(err, exc)
        self._track(driver, first=True)
        try:
            storage = validate_storage(driver.get_storage(None))
            if expected_serial is not None and str(storage["serial_number"]) != str(expected_serial):
                raise StorageSerialNumberMismatch(
                    f"expected {expected_serial}, the array reports {storage['serial_number']}")
        except BaseException as exc:
            self._logout(driver)
            err = as_delfin(exc)
            if not isinstance(err, StorageSerialNumberMismatch):
                self._connect_failed(err, fp, origin, access)
            _reraise(err, exc)
        slot = _Slot(driver, CallGate(_capacity(driver), self.bulk_inflight), fp)
        with self._lock:
            closed, superseded = self._closed, ticket < self._installed_ticket
            abandoned = attempt is not None and attempt in self._abandoned
            if not (closed or superseded or abandoned):
                old, self._slot = self._slot, slot
                parked, self._parked = self._parked, None
                if attempt is not None or self._access is None or fingerprint(self._access) != fp:
                    self._installed_attempt = attempt   # a re-login with the same access keeps its update's
                self._installed_ticket = ticket
                self._access, self._storage = access, storage
                self._rejected.discard(fp)
                if epoch is not None:
                    self._epoch = max(self._epoch, int(epoch))
                self._set_state(SessionState.READY)
            else:
                self.counters["refused_connects"] += 1
        if closed or superseded or abandoned:
            self._logout(driver)              # its fresh session must not outlive the refusal
            if closed:
                raise StorageNotFound(self.storage_id)
            if abandoned:
                raise _gave_up(self.storage_id)
            raise StorageBackendException(f"storage {self.storage_id}: newer access info was installed meanwhile")
        for stale in (old, parked):
            if stale is not None:
                self._retire(stale, bulk_in_background=True)
        return storage

    def _connect_failed(self, err: DelfinError, fp: str, origin: Origin,
                        access: Optional[AccessInfo] = None) -> None:
        """An update that fails changes nothing. Any other failed login (the storage's own access
        info) sets the state when there is no session to keep, and starts the prober. A restart
        that meets an outage keeps its access info: the prober logs in with it once it is back."""
        new = state_for(err)
        with self._lock:
            if origin == "update" or self._closed:
                return
            if self._access is None and origin == "recover":
                self._access = access
            if new == SessionState.AUTH_FAILED:
                self._rejected.add(fp)
            if self._slot is not None:
                return
            target = SessionState.AUTH_FAILED if new == SessionState.AUTH_FAILED else SessionState.UNREACHABLE
            self._set_state(target, err)
        if target == SessionState.UNREACHABLE:
            self._start_prober()

    def hold_rejected(self, access: Any, epoch: Optional[int] = None) -> None:
        """Start in ``auth_failed`` without logging in: the supervisor knows these credentials were
        rejected (an actor restarted after the rejection must not try them again)."""
        access = AccessInfo.parse(access)
        with self._lock:
            self._raise_if_closed()
            self._access = access
            self._rejected.add(fingerprint(access))
            if epoch is not None:
                self._epoch = max(self._epoch, int(epoch))
            if self._slot is None:
                self._set_state(SessionState.AUTH_FAILED, InvalidUsernameOrPassword(
                    f"storage {self.storage_id}: credentials rejected before a restart"))

    def claim_epoch(self, epoch: int) -> None:
        with self._lock:
            self._epoch = max(self._epoch, int(epoch))

    # -- calls --------------------------------------------------------------------------------
    def call(self, method: str, args: tuple = (), kwargs: Optional[dict] = None,
             lane: Optional[Lane] = None, timeout: Optional[float] = None) -> Any:
        """Run one driver method on the session, through its gate."""
        if method not in DRIVER_METHODS:
            raise InvalidInput(f"unknown driver method {method!r}")
        kwargs = kwargs or {}
        lane = lane or DRIVER_METHODS[method]
        deadline = time.monotonic() + (timeout or self.call_timeout_s)
        while True:
            slot = self._ready_slot(deadline)
            fn = getattr(slot.driver, method)
            try:
                inspect.signature(fn).bind(None, *args, **kwargs)
            except TypeError as exc:
                raise InvalidInput(f"{method}: {exc}") from None
            if not slot.gate.acquire(lane, max(0.0, deadline - time.monotonic())):
                if slot.gate.retired:
                    continue                  # swapped or dropped meanwhile: go to the new session
                raise StorageBackendException(
                    f"storage {self.storage_id}: its session stayed busy for {timeout or self.call_timeout_s:.0f} s")
            err: Optional[DelfinError] = None
            try:
                result = fn(None, *args, **kwargs)
            except BaseException as exc:
                if not isinstance(exc, DelfinError):
                    log.exception("storage %s: %s failed", self.storage_id, method)
                err, cause = as_delfin(exc), exc
                # the session is gone? drop it before the next queued call can take the gate
                self._call_failed(err, slot)
            finally:
                self._track(slot.driver)      # the driver may have logged in again inside the call
                slot.gate.release(lane)
            if err is not None:
                _reraise(err, cause)
            if method == "get_storage":
                with self._lock:
                    if slot is self._slot:
                        self._storage = result
            return result

    def _ready_slot(self, deadline: float) -> _Slot:
        with self._changed:
            while self._state == SessionState.CONNECTING:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StorageBackendException(f"storage {self.storage_id} is still connecting")
                self._changed.wait(remaining)
            state, slot, err = self._state, self._slot, self._last_error or {}
        if state == SessionState.READY and slot is not None:
            return slot
        if state == SessionState.AUTH_FAILED:
            raise InvalidUsernameOrPassword(
                f"storage {self.storage_id}: credentials rejected; update the access info")
        if state == SessionState.CLOSED:
            raise StorageNotFound(self.storage_id)
        raise StorageBackendException(
            f"storage {self.storage_id} is {state.value}: {err.get('error_msg', 'no session')}")

    def _call_failed(self, err: DelfinError, slot: _Slot) -> None:
        """A call's error that means the session is gone drops it (once, whoever sees it first)."""
        new = state_for(err)
        if new is None:
            return
        with self._lock:
            if slot is not self._slot or self._closed:
                return
            self._slot = None
            if new == SessionState.AUTH_FAILED:
                self._rejected.add(slot.fingerprint)
            else:
                slot, self._parked = None, slot     # keep it: the prober tries it first
            self._set_state(new, err)
        if slot is None:
            self._parked.gate.retire()          # queued calls see the new state, none reaches the array
            self._start_prober()
            return
        slot.gate.retire()
        threading.Thread(target=self._retire, args=(slot,), daemon=True, name="retire").start()

    # -- closing and fencing ------------------------------------------------------------------
    def close(self) -> None:
        """Stop for good: refuse every call and connect, drain and log the session out."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slot, self._slot = self._slot, None
            parked, self._parked = self._parked, None
            lingering = list(self._handed_over)   # old sessions still finishing bulk calls
            self._set_state(SessionState.CLOSED)
        self._stop.set()
        for stale in (slot, parked, *lingering):  # a session being revived is logged out by the prober
            if stale is not None:
                self._retire(stale)

    def fence(self, committed_epoch: Optional[int]) -> bool:
        """Close when another owner confirmed a higher epoch than ours (pending ones count)."""
        with self._lock:
            if committed_epoch is None or self._closed:
                return False
            mine = self._mine()
            stale = int(committed_epoch) > mine
        if stale:
            log.warning("storage %s: epoch %s is stale (committed %s): stopping and logging out",
                        self.storage_id, mine, committed_epoch)
            self.close()
        return stale

    def _retire(self, slot: _Slot, bulk_in_background: bool = False) -> None:
        """Drain the slot's gate (nobody calls the driver any more), then log it out.

        ``bulk_in_background`` (after a swap): wait only for the control calls in flight; when
        bulk calls still run on it, a thread logs it out once they are done (within the call
        timeout), so an update never waits for a sync or a collection, nor cuts one short."""
        with self._lock:
            self._retiring.add(slot)
        if bulk_in_background:
            slot.gate.drain(self.close_timeout_s, lanes=("control",))
            if slot.gate.active:
                with self._lock:
                    self._handed_over.add(slot)
                threading.Thread(target=self._drain_and_logout,
                                 args=(slot, max(self.close_timeout_s, self.call_timeout_s)),
                                 daemon=True, name="retire").start()
                return
        self._drain_and_logout(slot, self.close_timeout_s)

    def _drain_and_logout(self, slot: _Slot, timeout: float) -> None:
        if not slot.gate.drain(timeout):
            log.warning("storage %s: logging out with a call still in flight after %.0f s",
                        self.storage_id, timeout)
        with self._lock:
            first = not slot.logging_out       # a login, close() and the hand-over thread may all get here
            slot.logging_out = True
        if not first:
            slot.logged_out.wait(timeout)
            return
        try:
            self._logout(slot.driver)
        finally:
            with self._lock:
                self._retiring.discard(slot)
                self._handed_over.discard(slot)
            slot.logged_out.set()

    def _logout(self, driver: Any) -> None:
        try:
            driver.close()
        except Exception as exc:  # logging out is best effort; the array expires it anyway
            log.warning("storage %s: logout failed: %s", self.storage_id, type(exc).__name__)
        with self._lock:
            self.counters["logouts"] += 1
            self._handles.pop(id(driver), None)
            self._publish_locked()

    # -- session handles ----------------------------------------------------------------------
    def _track(self, driver: Any, first: bool = False) -> None:
        """Note the driver's current session handle (it changes when the driver logs in again);
        ``first`` right after its login, later only while it was not logged out."""
        try:
            handle = driver.session_handle() if hasattr(driver, "session_handle") else None
        except Exception:  # a driver bug must not fail the call that was made
            handle = None
        handle = str(handle) if handle else None
        with self._lock:
            if not first and id(driver) not in self._handles:
                return                        # logged out already: its session is over
            if first or self._handles[id(driver)] != handle:
                self._handles[id(driver)] = handle
                self._publish_locked()

    def _publish_locked(self) -> None:
        current = tuple(sorted({*(h for h in self._handles.values() if h), *self._orphans}))
        if current != self._published:
            self._published = current
            if self._on_sessions is not None:
                self._on_sessions(list(current))

    def republish_sessions(self) -> None:
        """Publish the current set again, after everything published before it (the supervisor
        drops reports of a storage it has not recorded yet: registration asks for this)."""
        with self._lock:
            self._published = ()
            self._publish_locked()

    def adopt_orphans(self, handles: Any) -> None:
        """Sessions a killed predecessor left open: ended before this core's next login."""
        with self._lock:
            mine = set(self._handles.values())
            for handle in handles or ():
                handle = reveal_secret(handle)
                if handle and str(handle) not in mine:
                    self._orphans.setdefault(str(handle), 0)
            self._publish_locked()

    def release_orphans(self, access: Any) -> int:
        """End the adopted sessions (no login); keep one the array cannot take now for a later
        try. Returns how many were ended."""
        with self._lock:
            todo = list(self._orphans)
        if not todo:
            return 0
        access = AccessInfo.parse(access)
        released = 0
        for handle in todo:
            ended, unsupported = True, False
            try:
                if self._release is None:
                    raise NotSupported("release_session")
                self._release(access, handle)
            except NotSupported:
                unsupported = True
            except BaseException as exc:
                ended = False
                log.warning("storage %s: a session left by a killed process not ended yet: %s",
                            self.storage_id, as_delfin(exc).error_code)
            with self._lock:
                if handle not in self._orphans:
                    continue                  # another thread ended it meanwhile
                if ended:
                    del self._orphans[handle]
                    if not unsupported:
                        released += 1
                        self.counters["released"] += 1
                else:
                    self._orphans[handle] += 1
                    if self._orphans[handle] >= MAX_RELEASE_TRIES:
                        del self._orphans[handle]
                        log.warning("storage %s: gave up ending a left-over session; the array's idle "
                                    "timeout ends it", self.storage_id)
                self._publish_locked()
        return released

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise StorageNotFound(self.storage_id)

    # -- prober -------------------------------------------------------------------------------
    def _start_prober(self) -> None:
        with self._lock:
            if self._closed or (self._prober is not None and self._prober.is_alive()):
                return
            self._prober = threading.Thread(target=self._probe_loop, daemon=True, name="prober")
            self._prober.start()

    def _probe_loop(self) -> None:
        """While unreachable, with backoff: the parked session again, else a fresh login with the
        storage's own access info."""
        backoff = Backoff(*self._backoff)
        while not self._stop.wait(backoff.next_delay()):
            with self._lock:
                if self._state != SessionState.UNREACHABLE or self._access is None:
                    return
                access, serial = self._access, (self._storage or {}).get("serial_number")
                self.counters["probes"] += 1
            outcome = self._revive(serial)
            if outcome in ("ready", "rejected"):
                return
            if outcome == "parked":
                continue
            try:
                self.connect(access, serial, origin="probe")
                return
            except DelfinError as exc:
                if state_for(exc) == SessionState.AUTH_FAILED or isinstance(exc, StorageNotFound):
                    return
                with self._lock:
                    self._last_error = {**exc.to_dict(), "at": time.time()}

    def _revive(self, serial: Optional[str]) -> Literal["ready", "parked", "rejected", "none"]:
        """Try the parked session: ``ready`` when it answers again, ``parked`` when the array is
        still out of reach (keep it, no fresh login), ``rejected`` when the driver's own re-login
        was refused (no second failed login: arrays lock accounts), ``none`` when there is none
        to try or it cannot be used."""
        with self._lock:
            slot, self._parked = self._parked, None
            self._reviving = slot
        if slot is None:
            return "none"
        outcome: Literal["ready", "parked", "rejected", "none"] = "none"
        try:
            if not slot.gate.drain(self.close_timeout_s):      # its last call never came back
                log.warning("storage %s: the parked session's call is still in flight; logging in afresh",
                            self.storage_id)
                return "none"
            try:
                storage = validate_storage(slot.driver.get_storage(None))
            except BaseException as exc:
                self._track(slot.driver)
                err = as_delfin(exc)
                outcome = {SessionState.UNREACHABLE: "parked", SessionState.AUTH_FAILED: "rejected"}.get(
                    state_for(err), "none")
                if outcome == "none":
                    # the array answered, with an error (busy, throttled, a bad reply): a fresh
                    # login would meet the same answer and could not log this session out, so
                    # keep it for a few more tries before giving up on it
                    self._odd_revivals += 1
                    outcome = "parked" if self._odd_revivals < MAX_ODD_REVIVALS else "none"
                elif outcome == "rejected":
                    self._connect_failed(err, slot.fingerprint, "probe")
                with self._lock:
                    self._last_error = {**err.to_dict(), "at": time.time()}
                return outcome
            self._track(slot.driver)
            if serial is not None and str(storage["serial_number"]) != str(serial):
                return "none"                 # another array answers there now: a fresh login says so
            self._odd_revivals = 0
            fresh = _Slot(slot.driver, CallGate(_capacity(slot.driver), self.bulk_inflight), slot.fingerprint)
            with self._lock:
                if self._closed or self._slot is not None or self._state != SessionState.UNREACHABLE:
                    return "none"             # closed or replaced meanwhile: log this one out
                self._slot, self._storage = fresh, storage
                self.counters["revivals"] += 1
                self._set_state(SessionState.READY)
            outcome = "ready"
            return outcome
        finally:
            with self._lock:
                self._reviving = None
                keep = outcome == "parked" and not self._closed and self._slot is None and self._parked is None
                if keep:
                    self._parked = slot
            if outcome in ("none", "rejected"):
                threading.Thread(target=self._retire, args=(slot,), daemon=True, name="retire").start()

    # -- state --------------------------------------------------------------------------------
    def _set_state(self, new: SessionState, error: Optional[DelfinError] = None) -> None:
        """Call with the lock held."""
        old = self._state
        if error is not None:
            self._last_error = {**error.to_dict(), "at": time.time()}
        if new == old:
            return
        if new in (SessionState.UNREACHABLE, SessionState.AUTH_FAILED):
            self.counters["failures"] += 1
        self._state, self._since = new, time.time()
        self._changed.notify_all()
        log.info("storage %s: %s -> %s", self.storage_id, old.value, new.value)
        if self._on_state is not None:
            self._on_state(new, old, self._last_error if error is not None else None)


def _capacity(driver: Any) -> int:
    value = getattr(type(driver), "max_concurrent_calls", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _gave_up(storage_id: str) -> StorageBackendException:
    return StorageBackendException(f"storage {storage_id}: the supervisor stopped waiting for this connect")


def _reraise(err: DelfinError, cause: BaseException) -> None:
    if err is cause:
        raise err
    raise err from cause
