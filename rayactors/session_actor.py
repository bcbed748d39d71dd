"""The storage session actor: the only driver instance and the only session of one storage.

Named ``storage:<id>``, detached, restarted on crash. Two concurrency groups: ``control``
(connect, state, get_storage, close) never waits behind ``bulk`` (lists, sync, perf). Bulk
calls to the array are capped by a semaphore. Errors move the state in one place
(``session_state.state_for``); in ``auth_failed`` nothing logs in until new access info.
"""
from __future__ import annotations

import inspect
import logging
import os
import threading
import time
from typing import Any, Optional

import psutil
import pyarrow as pa
import ray

from drivers import DRIVER_METHODS, LIST_METHODS, AccessInfo, load_driver_class, resource_result
from drivers.arrow_schema import empty_table, metrics_to_table, validate_table
from drivers.errors import (DelfinError, InvalidInput, InvalidUsernameOrPassword, StorageBackendException,
                            StorageNotFound, StorageSerialNumberMismatch)
from drivers.models import validate_storage

from .config import Config
from .metrics.sink import ParquetSink
from .scheduler import CollectionScheduler
from .session_state import Backoff, SessionState, as_delfin, state_for

log = logging.getLogger("delfin_dm.session")


class _Proxy:
    """Looks like a driver to ``resource_result`` but routes every call through the actor."""

    def __init__(self, actor: "StorageSessionActor") -> None:
        self._actor = actor

    def __getattr__(self, name: str) -> Any:
        return lambda context, *a, **kw: self._actor._invoke(name, a, kw)


class StorageSessionActor:
    def __init__(self, storage_id: str, config: dict[str, Any]) -> None:
        self.storage_id = storage_id
        self.cfg = Config.model_validate(config)
        self._lock = threading.RLock()
        self._driver: Any = None
        self._access: Optional[AccessInfo] = None
        self._storage: Optional[dict] = None
        self._state = SessionState.CONNECTING
        self._since = time.time()
        self._last_error: Optional[dict] = None
        self._logins = 0
        self._failures = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._bulk = threading.BoundedSemaphore(self.cfg.bulk_inflight)
        self._prober: Optional[threading.Thread] = None
        self._support: Optional[dict[str, dict]] = None
        self._supervisor_handle: Any = None
        self._scheduler: Optional[CollectionScheduler] = None
        self._epoch = 0
        self._fence: Optional[threading.Thread] = None
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        if self.restarted:
            threading.Thread(target=self._recover_after_restart, daemon=True, name="recover").start()

    # -- control group ------------------------------------------------------------------------
    @ray.method(concurrency_group="control")
    def connect(self, access: AccessInfo, expected_serial: Optional[str] = None, epoch: Optional[int] = None) -> dict:
        """Log in with ``access``; on success swap sessions and log the old one out.

        On failure the current session (if any) is untouched. ``epoch`` comes from the
        supervisor: the owner with the highest epoch is the only legitimate one.
        """
        if epoch is not None:
            with self._lock:
                self._epoch = max(self._epoch, int(epoch))
            self._start_fence()
        return self._connect(access, expected_serial)

    @ray.method(concurrency_group="control")
    def call_control(self, method: str, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        return self._invoke(method, args, kwargs or {})

    @ray.method(concurrency_group="control")
    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"storage_id": self.storage_id, "state": self._state.value, "since": self._since,
                    "last_error": self._last_error, "logins": self._logins, "failures": self._failures,
                    "restarted": self.restarted,
                    "serial_number": (self._storage or {}).get("serial_number"),
                    "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                    "epoch": self._epoch, "threads": threading.active_count(),
                    "rss_mb": psutil.Process().memory_info().rss / 1e6}

    @ray.method(concurrency_group="control")
    def collection_stats(self) -> dict[str, Any]:
        """Self-metrics of the scheduler (empty when it is not running)."""
        return self._scheduler.snapshot() if self._scheduler else {}

    @ray.method(concurrency_group="control")
    def recent_metrics(self, windows: int = 1) -> Any:
        """The newest ``windows`` collected windows from memory, as one Arrow table."""
        if not self._scheduler or not self._scheduler.recent:
            return empty_table()
        tables = [w["table"] for w in list(self._scheduler.recent)[-max(1, int(windows)):]]
        return pa.concat_tables(tables).unify_dictionaries() if len(tables) > 1 else tables[0]

    @ray.method(concurrency_group="control")
    def close(self) -> bool:
        """Stop background work and log out; the actor answers StorageNotFound afterwards."""
        self._shutdown_session()
        return True

    def _shutdown_session(self) -> None:
        self._stop.set()
        if self._scheduler:
            self._scheduler.stop()
        with self._lock:
            driver, self._driver = self._driver, None
            self._set_state(SessionState.CLOSED, report=False)
        self._close_driver(driver)

    def __ray_shutdown__(self) -> None:  # graceful termination also logs out
        try:
            self.close()
        except Exception:  # shutting down: nothing left to tell
            pass

    # -- bulk group ---------------------------------------------------------------------------
    @ray.method(concurrency_group="bulk")
    def call_bulk(self, method: str, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        return self._invoke(method, args, kwargs or {})

    @ray.method(concurrency_group="bulk")
    def sync(self) -> dict[str, dict]:
        """List every resource type once; keep the per-type support status. The rows go to the
        supervisor, which persists them for the HTTP API: the actor does not keep a copy."""
        return self._sync_now()

    def _sync_now(self) -> dict[str, dict]:
        proxy = _Proxy(self)
        support, snapshot = {}, {}
        for method in LIST_METHODS:
            res = resource_result(proxy, method)
            support[method] = res.summary()
            if res.status == "supported":
                snapshot[method] = res.rows
        with self._lock:
            self._support = support
        try:
            self._supervisor().save_snapshot.remote(self.storage_id, snapshot, support)
        except Exception as exc:  # the next sync persists again
            log.warning("storage %s: cannot persist snapshot: %s", self.storage_id, type(exc).__name__)
        return support

    @ray.method(concurrency_group="bulk")
    def resource_support(self) -> dict[str, dict]:
        return self._support if self._support is not None else self._sync_now()

    # -- dispatch -----------------------------------------------------------------------------
    def _invoke(self, method: str, args: tuple, kwargs: dict) -> Any:
        if method not in DRIVER_METHODS:
            raise InvalidInput(f"unknown driver method {method!r}")
        driver = self._usable_driver()
        fn = getattr(driver, method)
        try:
            inspect.signature(fn).bind(None, *args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"{method}: {exc}") from None
        lane = self._bulk if DRIVER_METHODS[method] == "bulk" else None
        if lane:
            lane.acquire()
        try:
            result = fn(None, *args, **kwargs)
        except DelfinError as exc:
            self._on_error(exc, driver)
            raise
        except Exception as exc:  # a driver bug: keep the cause in the log, a Delfin error out
            log.exception("storage %s: %s failed", self.storage_id, method)
            raise StorageBackendException(f"{method}: {type(exc).__name__}") from exc
        finally:
            if lane:
                lane.release()
        if method == "collect_perf_metrics":
            result = validate_table(result) if not isinstance(result, list) else \
                metrics_to_table(result, self.storage_id)
        elif method == "get_storage":
            with self._lock:
                self._storage = result
        return result

    def _usable_driver(self) -> Any:
        if self._state == SessionState.CONNECTING:
            self._connected.wait(timeout=self.cfg.control_timeout_s)
        with self._lock:
            state, driver = self._state, self._driver
        if state == SessionState.READY and driver is not None:
            return driver
        if state == SessionState.AUTH_FAILED:
            raise InvalidUsernameOrPassword(
                f"storage {self.storage_id}: credentials rejected; update the access info")
        if state == SessionState.CLOSED:
            raise StorageNotFound(self.storage_id)
        err = self._last_error or {}
        raise StorageBackendException(
            f"storage {self.storage_id} is {state.value}: {err.get('error_msg', 'no session')}")

    def _on_error(self, exc: DelfinError, driver: Any) -> None:
        new = state_for(exc)
        if new is None:
            return
        with self._lock:
            if self._driver is not driver:   # already swapped by a reconnect
                return
            self._driver = None
            self._set_state(new, exc)
        threading.Thread(target=self._close_driver, args=(driver,), daemon=True).start()
        if new == SessionState.UNREACHABLE:
            self._start_prober()

    # -- sessions -----------------------------------------------------------------------------
    def _build(self, access: AccessInfo) -> Any:
        cls = load_driver_class(access.vendor, access.model)
        kwargs = access.reveal()
        kwargs["storage_id"] = self.storage_id
        with self._lock:
            self._logins += 1
        return cls(**kwargs)

    def _connect(self, access: AccessInfo, expected_serial: Optional[str]) -> dict:
        access = AccessInfo.parse(access)
        try:
            driver = self._build(access)
        except Exception as exc:
            self._connect_failed(as_delfin(exc))
            raise as_delfin(exc) from exc
        try:
            storage = validate_storage(driver.get_storage(None))
            if expected_serial is not None and str(storage["serial_number"]) != str(expected_serial):
                raise StorageSerialNumberMismatch(
                    f"expected {expected_serial}, the array reports {storage['serial_number']}")
        except Exception as exc:
            self._close_driver(driver)
            if not isinstance(exc, StorageSerialNumberMismatch):
                self._connect_failed(as_delfin(exc))
            raise as_delfin(exc) from exc
        with self._lock:
            old, self._driver = self._driver, driver
            self._access, self._storage = access, storage
            self._set_state(SessionState.READY)
        self._connected.set()
        if old is not None:
            self._close_driver(old)
        if self.cfg.scheduler_enabled and self._scheduler is None:
            self._start_scheduler(driver, access)
        return storage

    def _start_scheduler(self, driver: Any, access: AccessInfo) -> None:
        """Collection settings: per storage (extra_attributes) > config > driver capabilities."""
        with self._lock:
            if self._scheduler is not None:
                return
            extra = access.extra_attributes
            try:
                caps = driver.get_capabilities(None)
            except DelfinError:
                caps = {}
            interval = int(extra.get("collect_interval") or self.cfg.perf_interval_s
                           or caps.get("collect_interval") or 60)
            rm = extra.get("resource_metrics")
            self._scheduler = CollectionScheduler(
                self.storage_id, interval_s=max(1, interval), overlap_s=self.cfg.perf_overlap_s,
                sync_interval_s=int(extra.get("sync_interval") or self.cfg.sync_interval_s),
                historic=bool(caps.get("is_historic", False)),
                retention_s=int(caps.get("performance_metric_retention_window") or 0),
                resource_metrics=rm if isinstance(rm, dict) else None,
                collect=lambda s, e: self._invoke("collect_perf_metrics",
                                                  (self.storage_id, rm if isinstance(rm, dict) else None, s, e), {}),
                is_ready=lambda: self._state == SessionState.READY,
                sync=self._sync_now, supervisor=self._supervisor,
                sink=ParquetSink(self.cfg.metrics_root), recent_windows=self.cfg.recent_windows,
                perf=bool(caps))
        self._scheduler.start()

    def _connect_failed(self, exc: DelfinError) -> None:
        """A failed login changes the state only when there is no working session to keep."""
        new = state_for(exc) or SessionState.UNREACHABLE   # no session for any other reason: retry
        with self._lock:
            if self._driver is not None:
                return
            self._set_state(new, exc)
        self._connected.set()
        if new == SessionState.UNREACHABLE:
            self._start_prober()

    def _close_driver(self, driver: Any) -> None:
        if driver is None:
            return
        try:
            driver.close()
        except Exception as exc:  # logging out is best effort; the array expires it anyway
            log.warning("storage %s: logout failed: %s", self.storage_id, type(exc).__name__)

    def _start_once(self, attr: str, target: Any) -> None:
        """Start ``target`` in a daemon thread kept in ``attr``, unless it is running already."""
        with self._lock:
            current = getattr(self, attr)
            if current is not None and current.is_alive():
                return
            thread = threading.Thread(target=target, daemon=True, name=attr.strip("_"))
            setattr(self, attr, thread)
            thread.start()

    def _start_prober(self) -> None:
        self._start_once("_prober", self._probe_loop)

    def _probe_loop(self) -> None:
        backoff = Backoff(self.cfg.backoff_base_s, self.cfg.backoff_cap_s)
        while not self._stop.wait(backoff.next_delay()):
            with self._lock:
                if self._state != SessionState.UNREACHABLE or self._access is None:
                    return
                access = self._access
            try:
                self._connect(access, None)
                return
            except DelfinError as exc:
                if state_for(exc) == SessionState.AUTH_FAILED:
                    return
                with self._lock:
                    self._last_error = exc.to_dict()

    def _recover_after_restart(self) -> None:
        """After a crash: fetch the access info from the supervisor (never from constructor
        arguments, which Ray's state API would show) and log in again."""
        backoff = Backoff(self.cfg.backoff_base_s, self.cfg.backoff_cap_s)
        while not self._stop.is_set():
            try:
                access = ray.get(self._supervisor().actor_access_info.remote(
                    self.storage_id, ray.get_runtime_context().get_node_id()), timeout=30)
                break
            except Exception as exc:  # supervisor restarting too: retry with backoff
                log.warning("storage %s: access info not available yet: %s", self.storage_id, type(exc).__name__)
                self._supervisor_handle = None
                self._stop.wait(backoff.next_delay())
        else:
            return
        if access is None:   # removed while we were down
            with self._lock:
                self._set_state(SessionState.CLOSED, report=False)
            self._connected.set()
            return
        access, epoch = access
        with self._lock:
            self._access = access
            self._epoch = max(self._epoch, int(epoch or 0))
        self._start_fence()
        try:
            self._connect(access, None)
        except DelfinError as exc:
            log.warning("storage %s: login after restart failed: %s", self.storage_id, exc.error_code)

    # -- fencing ------------------------------------------------------------------------------
    def _start_fence(self) -> None:
        self._start_once("_fence", self._fence_loop)

    def _fence_loop(self) -> None:
        """Stop and log out when the supervisor knows a newer owner (higher epoch) or no storage.

        After a partition heals or a GCS hiccup two actors could briefly hold one array's
        session; the stale one finds out here within ``fence_interval_s``.
        """
        while not self._stop.wait(self.cfg.fence_interval_s):
            try:
                current = ray.get(self._supervisor().current_epoch.remote(self.storage_id), timeout=30)
            except Exception:  # supervisor busy or restarting: try again later
                self._supervisor_handle = None
                continue
            if current is not None and not (current > self._epoch):
                self._registered = True
                continue
            if current is None and not getattr(self, "_registered", False):
                continue    # registration still in progress
            if current is None or current > self._epoch:
                log.warning("storage %s: epoch %s is stale (current %s): stopping and logging out",
                            self.storage_id, self._epoch, current)
                self._shutdown_session()
                return

    # -- state --------------------------------------------------------------------------------
    def _supervisor(self) -> Any:
        if self._supervisor_handle is None:
            self._supervisor_handle = ray.get_actor(self.cfg.supervisor_name, namespace=self.cfg.namespace)
        return self._supervisor_handle

    def _set_state(self, new: SessionState, error: Optional[DelfinError] = None, report: bool = True) -> None:
        """Call with the lock held."""
        old = self._state
        if error is not None:
            self._last_error = {**error.to_dict(), "at": time.time()}
        if new == old:
            return
        if new in (SessionState.UNREACHABLE, SessionState.AUTH_FAILED):
            self._failures += 1
        self._state, self._since = new, time.time()
        log.info("storage %s: %s -> %s", self.storage_id, old.value, new.value)
        if report:
            try:
                self._supervisor().on_state_change.remote(self.storage_id, new.value, old.value,
                                                          self._last_error if error else None)
            except Exception as exc:  # the supervisor reconciles on its own start
                self._supervisor_handle = None
                log.warning("storage %s: cannot report state: %s", self.storage_id, type(exc).__name__)


def actor_class(cfg: Config) -> Any:
    """The remote class with this config's concurrency groups."""
    return ray.remote(num_cpus=cfg.actor_num_cpus, max_restarts=-1, max_task_retries=0,
                      concurrency_groups={"control": 4, "bulk": max(16, cfg.bulk_inflight * 4)}
                      )(StorageSessionActor)
