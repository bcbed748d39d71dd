"""The storage session actor: the Ray shell around one storage's ``SessionCore``.

Named ``storage:<id>``, detached, restarted on crash. The core (``session_core.py``) owns the
driver, the state machine and every rule about sessions; this shell adds what needs Ray:
concurrency groups, the supervisor (reports retried until acknowledged, epoch checks, the
access info after a restart), the collection scheduler and the snapshot of each sync.

Concurrency groups: ``admin`` (state, stats, close: never waits for the array), ``session``
(connect: a new login never queues behind calls waiting for a slow array), ``control``
(get_storage, capabilities) and ``bulk`` (lists, sync, perf). Inside the core a gate lets one
call at a time reach the session (or the driver's declared number), control first.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Optional

import psutil
import ray
from pydantic import SecretStr

from drivers import LIST_METHODS, AccessInfo, load_driver_class, resource_result
from drivers.arrow_schema import empty_table, metrics_to_table, validate_table
from drivers.errors import DelfinError, InvalidInput

from drivers.perf_catalog import parse_resource_metrics

from . import lean
from .config import Config
from .metrics import transfer
from .metrics.sink import ParquetSink
from .naming import get_board
from .ownership import follow
from .scheduler import CollectionScheduler
from .session_core import Origin, SessionCore
from .session_state import Backoff, SessionState
from .state_reporter import StateReporter

log = logging.getLogger("delfin_dm.session")
DEFAULT_HISTORY_S = 7200


class _Proxy:
    """Looks like a driver to ``resource_result`` but routes every call through the core."""

    def __init__(self, actor: "StorageSessionActor") -> None:
        self._actor = actor

    def __getattr__(self, name: str) -> Any:
        return lambda context, *a, **kw: self._actor._call(name, a, kw)


class StorageSessionActor:
    def __init__(self, storage_id: str, config: dict[str, Any]) -> None:
        lean.block_unused()             # before any Arrow call: pyarrow would load pandas (+25 MB)
        transfer.install()              # windows leave as pyarrow pickles them, not Ray's way
        self.storage_id = storage_id
        self.cfg = Config.model_validate(config)
        # a working directory of its own: some vendor drivers write files relative to it
        workdir = os.path.join(self.cfg.data_dir, "work", storage_id)
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        os.chdir(workdir)
        self._supervisor_handle: Any = None
        self._board_handle: Any = None
        self.ownership_checks = 0           # questions to the supervisor: who owns this storage?
        self.core = SessionCore(
            storage_id, self._build, bulk_inflight=self.cfg.bulk_inflight,
            call_timeout_s=self.cfg.control_timeout_s, close_timeout_s=self.cfg.close_timeout_s,
            backoff_base_s=self.cfg.backoff_base_s, backoff_cap_s=self.cfg.backoff_cap_s,
            on_state=self._on_state, release=_release_session, on_sessions=self._on_sessions)
        self.reporter = StateReporter(self._send_report, self.core.stopped)
        self._lock = threading.Lock()
        self._support: Optional[dict[str, dict]] = None
        self._synced_at: Optional[float] = None
        self._scheduler: Optional[CollectionScheduler] = None
        self._registered = False
        self._threads: dict[str, threading.Thread] = {}
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        if self.restarted:
            self._start_once("recover", self._recover_after_restart)

    # -- admin group: answers whatever the array does ---------------------------------------
    @ray.method(concurrency_group="admin")
    def state(self) -> dict[str, Any]:
        return {**self.core.snapshot(), "restarted": self.restarted,
                "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "threads": threading.active_count(), "reports_pending": self.reporter.pending(),
                "reports_delivered": self.reporter.delivered,
                "ownership_checks": self.ownership_checks,
                "rss_mb": psutil.Process().memory_info().rss / 1e6}

    @ray.method(concurrency_group="admin")
    def collection_stats(self) -> dict[str, Any]:
        """Self-metrics of the scheduler (empty when it is not running)."""
        return self._scheduler.snapshot() if self._scheduler else {}

    @ray.method(concurrency_group="admin")
    def recent_metrics(self, windows: int = 1) -> Any:
        """The newest ``windows`` collected windows: the kept ones (``recent_windows``) as
        references to the objects they were published as when collected (``transfer.Published``,
        nothing serialized per call), else one table read back from the storage's Parquet files."""
        scheduler, windows = self._scheduler, max(1, int(windows))
        if not scheduler or scheduler.last_end is None:
            return empty_table()
        kept = list(scheduler.recent)[-windows:]
        if len(kept) < windows:
            from .metrics import read
            table = read(storage_ids=[self.storage_id], root=self.cfg.metrics_root,
                         start=scheduler.last_end - windows * scheduler.interval_ms, end=scheduler.last_end)
            lean.release_memory()
            return table
        return transfer.Published(tuple(w["window"] for w in kept))

    @ray.method(concurrency_group="admin")
    def close(self) -> bool:
        """Stop background work and log out; the actor answers StorageNotFound afterwards."""
        self._shutdown()
        return True

    def _shutdown(self) -> None:
        if self._scheduler:
            self._scheduler.stop()
        self.core.close()

    def __ray_shutdown__(self) -> None:  # graceful termination also logs out
        try:
            self._shutdown()
        except Exception:  # shutting down: nothing left to tell
            pass

    # -- session group: a new login never queues behind control calls waiting for the array -----
    @ray.method(concurrency_group="session")
    def connect(self, access: AccessInfo, expected_serial: Optional[str] = None, epoch: Optional[int] = None,
                origin: Origin = "update", attempt: Optional[str] = None) -> dict:
        """Log in with ``access``; on success swap sessions and log the old one out.

        ``epoch`` is the supervisor's proposal: it commits it only after this returns, and the
        core counts it as ours while the connect is in flight, so fencing never stops us here.
        The fence starts once the connect has answered (its first check runs at once), so a
        connect always ends as a login or a named error, never as a fence half-way through.
        """
        try:
            storage = self.core.connect(access, expected_serial, epoch, origin, attempt)
        finally:
            self._start_fence()
        self._start_scheduler()
        return storage

    @ray.method(concurrency_group="admin")
    def abandon_connect(self, attempt: str) -> Optional[dict]:
        """The supervisor stopped waiting for ``connect(..., attempt=attempt)``: see
        ``SessionCore.abandon``. Not in the session group, where that connect may still run."""
        return self.core.abandon(attempt)

    @ray.method(concurrency_group="session")
    def hold_rejected(self, access: AccessInfo, epoch: int) -> dict:
        """Recreated for a storage whose credentials the array rejected: wait in auth_failed
        without any login until new access info comes through ``connect``."""
        self._registered = True
        self._start_fence()
        self.core.hold_rejected(access, epoch)
        self.core.release_orphans(access)      # ending a session needs no login
        return self.core.snapshot()

    @ray.method(concurrency_group="admin")
    def republish_sessions(self) -> None:
        """Report the open sessions again: the supervisor dropped the reports sent while the
        storage was being registered (it had no row for them yet)."""
        self.core.republish_sessions()

    @ray.method(concurrency_group="session")
    def adopt_sessions(self, handles: list[SecretStr]) -> int:
        """Recreated after the cluster lost its actors: the sessions the last actor left open,
        ended before the next login. Returns how many are waiting."""
        self.core.adopt_orphans(handles)
        return self.core.snapshot()["orphans"]

    # -- control group ------------------------------------------------------------------------
    @ray.method(concurrency_group="control")
    def call_control(self, method: str, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        return self._call(method, args, kwargs or {}, "control")

    # -- bulk group ---------------------------------------------------------------------------
    @ray.method(concurrency_group="bulk")
    def call_bulk(self, method: str, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        return self._call(method, args, kwargs or {}, "bulk")

    @ray.method(concurrency_group="bulk")
    def sync(self) -> dict[str, dict]:
        """List every resource type once; keep the per-type support status. The rows go to the
        supervisor, which persists them for the HTTP API: the actor does not keep a copy."""
        return self._sync_now()

    @ray.method(concurrency_group="bulk")
    def resource_support(self) -> dict[str, dict]:
        return self._support if self._support is not None else self._sync_now()

    def _sync_now(self) -> dict[str, dict]:
        self._synced_at = time.time()       # from its start: a scheduled sync never doubles it
        proxy = _Proxy(self)
        support, snapshot = {}, {}
        for method in LIST_METHODS:
            res = resource_result(proxy, method)
            support[method] = res.summary()
            if res.status == "supported":
                snapshot[method] = res.rows
        self._support = support
        try:
            self._tell_supervisor("save_snapshot", snapshot, support)
        except Exception as exc:  # the next sync persists again
            log.warning("storage %s: cannot persist snapshot: %s", self.storage_id, type(exc).__name__)
        del snapshot
        lean.release_memory()               # like after a window: the parsed lists go back to the OS
        return support

    # -- dispatch -----------------------------------------------------------------------------
    def _call(self, method: str, args: tuple, kwargs: dict, lane: Optional[str] = None) -> Any:
        timeout = self.cfg.control_timeout_s if lane == "control" else self.cfg.bulk_timeout_s
        result = self.core.call(method, args, kwargs, lane, timeout)
        if method == "collect_perf_metrics":
            result = metrics_to_table(result, self.storage_id) if isinstance(result, list) else validate_table(result)
        return result

    def _build(self, access: AccessInfo) -> Any:
        cls = load_driver_class(access.vendor, access.model)
        kwargs = access.reveal()
        kwargs["storage_id"] = self.storage_id
        return cls(**kwargs)

    # -- scheduler ----------------------------------------------------------------------------
    def _start_scheduler(self) -> None:
        """Collection settings: per storage (extra_attributes) > config > driver capabilities.
        The capabilities come through the gate like any call: never under a lock."""
        if not self.cfg.scheduler_enabled or self._scheduler is not None:
            return
        access = self.core.access
        if access is None or self.core.state != SessionState.READY:
            return
        try:
            caps = self._call("get_capabilities", (), {}, "control") or {}
        except DelfinError:
            caps = {}
        try:
            opts = collection_options(access)
        except DelfinError as exc:   # checked at registration; a stored oddity must not stop collection
            log.warning("storage %s: collection options ignored: %s", self.storage_id, exc.msg)
            opts = {"collect_interval": None, "sync_interval": None, "resource_metrics": None}
        interval = int(opts["collect_interval"] or self.cfg.perf_interval_s or caps.get("collect_interval") or 60)
        rm = opts["resource_metrics"]
        scheduler = CollectionScheduler(
            self.storage_id, interval_s=max(1, interval), overlap_s=self.cfg.perf_overlap_s,
            sync_interval_s=int(opts["sync_interval"] or self.cfg.sync_interval_s),
            historic=bool(caps.get("is_historic", False)),
            # a driver that keeps history but does not say how long: Delfin's own retry window
            retention_s=int(caps.get("performance_metric_retention_window") or DEFAULT_HISTORY_S),
            resource_metrics=rm,
            collect=lambda s, e: self._call("collect_perf_metrics", (self.storage_id, rm, s, e), {}, "bulk"),
            is_ready=lambda: self.core.state == SessionState.READY,
            sync=self._sync_now, supervisor=self._supervisor,
            record=lambda *state: self._send_report("record_collection", state),
            sink=ParquetSink(self.cfg.metrics_root), recent_windows=self.cfg.recent_windows, keep=transfer.publish,
            perf=bool(caps), synced_at=lambda: self._synced_at)
        with self._lock:
            if self._scheduler is not None or self.core.stopped.is_set():
                return
            self._scheduler = scheduler
        scheduler.start()

    # -- reports to the supervisor ------------------------------------------------------------
    def _on_state(self, new: SessionState, old: SessionState, error: Optional[dict]) -> None:
        """Called by the core with its lock held: queue, never block."""
        if new == SessionState.CLOSED:
            return
        self.reporter.report("on_state_change", new.value, old.value, error)
        if new == SessionState.READY:
            self.reporter.report("confirm_epoch")
            if self._scheduler is None and self.cfg.scheduler_enabled:
                threading.Thread(target=self._start_scheduler, daemon=True, name="start-scheduler").start()

    def _on_sessions(self, handles: list[str]) -> None:
        """Called by the core with its lock held: the open sessions, kept (sealed) by the
        supervisor so that a restart after kill -9 can end them."""
        self.reporter.report("record_sessions", [SecretStr(h) for h in handles])

    def _tell_supervisor(self, method: str, *args: Any) -> Any:
        """The one place a report leaves for the supervisor (state, sessions, sync, collection):
        it names the storage and this actor's epoch as it is when sent, not when queued, counting
        a connect in flight (``claimed_epoch``). One queued before an update raised our epoch is
        still the owner's, while a twin's epoch stays below the committed one and the supervisor
        drops its reports. ``confirm_epoch`` commits the epoch it names, so it names the one a
        session is held at: a connect in flight may still fail, and its epoch must not outlive it."""
        epoch = self.core.epoch if method == "confirm_epoch" else self.core.claimed_epoch
        return getattr(self._supervisor(), method).remote(self.storage_id, epoch, *args)

    def _send_report(self, method: str, args: tuple) -> None:
        """A report, acknowledged (the reporters retry until this returns)."""
        try:
            ray.get(self._tell_supervisor(method, *args), timeout=self.cfg.control_timeout_s)
        except Exception:
            self._supervisor_handle = None
            raise

    # -- restart ------------------------------------------------------------------------------
    def _recover_after_restart(self) -> None:
        """After a crash: fetch the access info from the supervisor (never from constructor
        arguments, which Ray's state API would show) and log in again, unless the supervisor
        knows these credentials were rejected."""
        backoff = Backoff(self.cfg.backoff_base_s, self.cfg.backoff_cap_s)
        while not self.core.stopped.is_set():
            try:
                found = ray.get(self._supervisor().actor_access_info.remote(
                    self.storage_id, ray.get_runtime_context().get_node_id()), timeout=30)
                break
            except Exception as exc:  # supervisor restarting too: retry with backoff
                log.warning("storage %s: access info not available yet: %s", self.storage_id, type(exc).__name__)
                self._supervisor_handle = None
                self.core.stopped.wait(backoff.next_delay())
        else:
            return
        if found is None:   # removed while we were down
            self.core.close()
            return
        access, epoch, rejected, orphans = found
        self.core.claim_epoch(epoch)
        self.core.adopt_orphans(orphans)      # ended before the login below (or now, if rejected)
        self._registered = True
        self._start_fence()
        if rejected:
            self.core.hold_rejected(access)
            self.core.release_orphans(access)
            return
        try:
            self.core.connect(access, None, None, "recover")
            self._start_scheduler()
        except DelfinError as exc:
            log.warning("storage %s: login after restart failed: %s", self.storage_id, exc.error_code)

    # -- fencing ------------------------------------------------------------------------------
    def _start_fence(self) -> None:
        self._start_once("fence", self._fence_loop)

    def _fence_loop(self) -> None:
        """Stop and log out when the supervisor committed a newer owner (higher epoch) or the
        storage is gone. After a partition heals two actors could briefly hold one array's
        session; the stale one finds out as soon as the supervisor commits (its board wakes
        every actor of that storage, ``ownership.py``) and at least every ``fence_interval_s``."""
        follow(self._watch_ownership, self._check_ownership, self.core.stopped, self.cfg.fence_interval_s)

    def _watch_ownership(self, seen: Optional[int]) -> int:
        try:
            if self._board_handle is None:
                self._board_handle = get_board(self.cfg.supervisor_name, self.cfg.namespace)
            return ray.get(self._board_handle.watch.remote(self.storage_id, seen, self.cfg.fence_interval_s),
                           timeout=self.cfg.fence_interval_s + 30)
        except Exception:
            self._board_handle = None
            raise

    def _check_ownership(self) -> Optional[bool]:
        """Ask the supervisor who owns the storage; True once this actor no longer does, None
        when the supervisor did not answer (busy or restarting: ``follow`` asks again soon)."""
        self.ownership_checks += 1
        try:
            current = ray.get(self._supervisor().current_epoch.remote(self.storage_id), timeout=30)
        except Exception:
            self._supervisor_handle = None
            return None
        if current is None:
            if self._registered:          # removed: nobody owns it any more
                self._shutdown()
                return True
            return False                  # registration still in progress
        self._registered = True
        if self.core.fence(current):
            if self._scheduler:
                self._scheduler.stop()
            return True
        return False

    # -- helpers ------------------------------------------------------------------------------
    def _start_once(self, name: str, target: Any) -> None:
        with self._lock:
            current = self._threads.get(name)
            if current is not None and current.is_alive():
                return
            thread = self._threads[name] = threading.Thread(target=target, daemon=True, name=name)
            thread.start()

    def _supervisor(self) -> Any:
        if self._supervisor_handle is None:
            self._supervisor_handle = ray.get_actor(self.cfg.supervisor_name, namespace=self.cfg.namespace)
        return self._supervisor_handle


def _release_session(access: AccessInfo, handle: str) -> None:
    """End a session a killed actor left, through its driver class (no login)."""
    load_driver_class(access.vendor, access.model).release_session(access, handle)


def collection_options(access: AccessInfo) -> dict[str, Any]:
    """A storage's own collection settings from ``extra_attributes`` (strings, as Delfin's schema
    wants): ``collect_interval`` and ``sync_interval`` in seconds, ``resource_metrics`` as
    ``"volume:iops,readIops;controller"``. InvalidInput names the bad one."""
    try:
        metrics = parse_resource_metrics(access.extra("resource_metrics"))
    except ValueError as exc:
        raise InvalidInput(f"Invalid input for field/attribute resource_metrics. {exc}") from None
    return {"collect_interval": access.number("collect_interval", None, 1, 86400),
            "sync_interval": access.number("sync_interval", None, 10, 7 * 86400),
            "resource_metrics": metrics}


def concurrency_groups(cfg: Config) -> dict[str, int]:
    """Ray's thread pool per lane of a storage actor (see the module docstring)."""
    return {"admin": 2, "session": 2, "control": 4, "bulk": max(16, cfg.bulk_inflight * 4)}


def actor_class(cfg: Config) -> Any:
    """The remote class with this config's concurrency groups."""
    return ray.remote(num_cpus=cfg.actor_num_cpus, max_restarts=-1, max_task_retries=0,
                      concurrency_groups=concurrency_groups(cfg))(StorageSessionActor)
