"""The supervisor actor ``driver-manager``: registry, lifecycle, credential retry, alerts.

Create: validate, refuse a known endpoint before any login, start the storage actor (one
login), refuse a known serial, persist. Update access info: the storage actor logs in with the
new credentials and checks the serial; only then persist. Delete: tombstone, close (logout),
kill, forget. On start it reconciles the registry with the live named actors.

Three thread groups (``GROUPS``), so that what must be answered at once never queues behind
callers' work: the default group (``CALLER_THREADS``) runs the callers' registrations, updates,
removals and reads, any of which can wait long for an array or for another change of the same
endpoint or storage; ``reports`` runs what storage actors send (state, sessions, snapshots,
collection progress, ownership checks, access info after a restart); ``answers`` runs ``ping``
and ``settle_registration``, which a caller that stopped waiting must get even then.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Optional

import ray
from pydantic import SecretStr
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from drivers import AccessInfo, load_driver_class
from drivers.access_info import reveal_secret
from drivers.models import KINDS_BY_METHOD, KINDS_BY_NAME
from drivers.errors import (ALL_ERRORS, AccessInfoNotFound, DelfinError, InvalidInput, StorageAlreadyExists,
                            StorageBackendException, StorageBusy, StorageIsSyncing, StorageNotFound)

from . import credentials, registry_lock
from .alerts import FAULT_ALERTS, WebhookSender, make_alert
from .config import Config
from .crypto import SecretBox, load_key
from .metrics.sink import ParquetSink
from .naming import get_storage_actor, live_storage_actor_ids, storage_actor_name
from .ownership import ensure_board
from .placement import NodeBalancer
from .registration_requests import RegistrationRequests
from .registry import Query, Registry
from .session_actor import actor_class, collection_options

log = logging.getLogger("delfin_dm.supervisor")

CALLER_THREADS = 64
GROUPS = {"reports": 16, "answers": 8}
_ROW_NS = uuid.UUID("6f1c3c2e-4d9b-4f7e-9a51-0d3e8f5c2b17")


def resource_id(storage_id: str, kind: str, native_id: Any, occurrence: int = 0) -> str:
    """Stable row id: the same storage, kind and native id give the same id on every sync. Rows
    that share a native id (Delfin lists them all) are told apart by their order of appearance."""
    suffix = f"#{occurrence}" if occurrence else ""
    return str(uuid.uuid5(_ROW_NS, f"{storage_id}/{kind}/{native_id}{suffix}"))


def snapshot_rows(storage_id: str, snapshot: dict[str, Any]) -> dict[str, list[tuple[str, dict]]]:
    """A sync's results as rows per kind, each with its id, and the member lists Delfin's views
    show (a host's initiators, a group's hosts, ports or volumes)."""
    plain = {KINDS_BY_METHOD[m].name: (items if isinstance(items, list) else items.get(KINDS_BY_METHOD[m].key, []))
             for m, items in snapshot.items()}
    out: dict[str, list[tuple[str, dict]]] = {}
    for method, items in snapshot.items():
        kind = KINDS_BY_METHOD[method]
        members: dict[Any, list] = {}
        if kind.members:
            source, member_id, _ = kind.members
            relations = plain.get(source[1:], []) if source.startswith("@") else \
                (items.get(source, []) if isinstance(items, dict) else [])
            for rel in relations:
                members.setdefault(rel.get(kind.native_id), []).append(rel.get(member_id))
        seen: dict[Any, int] = {}
        rows = []
        for row in plain[kind.name]:
            native = row.get(kind.native_id)
            n = seen[native] = seen.get(native, -1) + 1
            view = {**row, "storage_id": storage_id}
            if kind.members:
                view[kind.members[2]] = members.get(native, [])
            rows.append((resource_id(storage_id, kind.name, native, n), view))
        out[kind.name] = rows
    return out


def _no_answer() -> StorageBackendException:
    return StorageBackendException("the storage actor did not answer in time")


def unwrap(exc: BaseException) -> BaseException:
    """A Delfin error raised inside an actor, as its plain class (RayTaskError stripped)."""
    if isinstance(exc, RayTaskError) and isinstance(exc.cause, DelfinError):
        cause = exc.cause
        for cls in type(cause).__mro__:
            if cls.__module__ == "drivers.errors" and issubclass(cls, DelfinError):
                return cls(*cause.error_args)
        return cause
    return exc


class Supervisor:
    def __init__(self, config: dict[str, Any]) -> None:
        self.cfg = Config.model_validate(config)
        self._registry_lock = registry_lock.hold(self.cfg.registry_path, {      # one supervisor per registry
            "namespace": self.cfg.namespace, "cluster": ray.get_runtime_context().gcs_address},
            self.cfg.close_timeout_s)
        self.registry = Registry(self.cfg.registry_path, SecretBox(load_key(self.cfg.key_file)))
        self._actor_cls = actor_class(self.cfg)
        self._endpoint_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._storage_locks: dict[str, threading.Lock] = {}
        self._healing: set[str] = set()
        self.webhooks = WebhookSender(self.cfg.webhooks)
        self.last_reconcile: dict[str, Any] = {}
        self.balancer = NodeBalancer(min_cpus=self.cfg.actor_num_cpus)
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        self._started = time.monotonic()
        self.stale_reports = 0             # reports dropped because a newer owner was committed
        self._requests = RegistrationRequests(keep_s=10 * self.cfg.connect_deadline_s)
        self._board = ensure_board(self.cfg.supervisor_name, self.cfg.namespace, self.cfg.actor_num_cpus)
        threading.Thread(target=self._safe_reconcile, daemon=True, name="reconcile").start()
        threading.Thread(target=self._retention_loop, daemon=True, name="retention").start()

    @ray.method(concurrency_group="answers")
    def reconcile_report(self) -> dict[str, Any]:
        return self.last_reconcile

    @ray.method(concurrency_group="answers")
    def ping(self) -> dict[str, Any]:
        return {"ok": True, "restarted": self.restarted, "storages": len(self.registry.rows()), "pid": os.getpid(),
                "node_id": ray.get_runtime_context().get_node_id(), "healing": len(self._healing),
                "stale_reports": self.stale_reports, "paths": self.cfg.paths()}

    # -- helpers ------------------------------------------------------------------------------
    def _lock_for(self, table: dict[str, threading.Lock], key: str) -> threading.Lock:
        with self._locks_guard:
            return table.setdefault(key, threading.Lock())

    @contextmanager
    def _exclusive(self, table: dict[str, threading.Lock], key: str, what: str) -> Iterator[None]:
        """One registration per endpoint, one change per storage at a time. A second caller waits
        at most ``close_timeout_s`` for the first, then hears StorageBusy (retry later): waiting for
        the whole of the first would outlast the caller's own deadline (``connect_deadline_s``),
        and its change would then happen after it was told it failed."""
        lock = self._lock_for(table, key)
        if not lock.acquire(timeout=self.cfg.close_timeout_s):
            raise StorageBusy(key, what)
        try:
            yield
        finally:
            lock.release()

    def _get(self, ref: Any, timeout: Optional[float] = None) -> Any:
        try:
            return ray.get(ref, timeout=timeout or self.cfg.control_timeout_s)
        except RayTaskError as exc:
            raise unwrap(exc) from None
        except GetTimeoutError:
            raise _no_answer() from None

    def _new_actor(self, storage_id: str) -> Any:
        opts: dict[str, Any] = dict(name=storage_actor_name(storage_id), namespace=self.cfg.namespace,
                                    lifetime="detached", get_if_exists=True)
        strategy = self.balancer.place(storage_id) if self.cfg.actor_spread else None
        if strategy is not None:
            opts["scheduling_strategy"] = strategy
        return self._actor_cls.options(**opts).remote(storage_id, self.cfg.model_dump())

    @staticmethod
    def _kill(actor: Any) -> None:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # already dead
            pass

    def _owners_changed(self, storage_id: str) -> None:
        """After a commit about ``storage_id`` (epoch, registration, removal): wake its actors'
        watches, so a stale owner asks at once instead of polling."""
        try:
            self._board.changed.remote(storage_id)
        except Exception as exc:   # the actors still ask every fence_interval_s
            log.warning("ownership board not reachable: %s", type(exc).__name__)

    def _commit_epoch(self, storage_id: str, epoch: int) -> None:
        """Raise the committed epoch; wake the storage's actors only when it did rise (an owner
        confirming the epoch it already holds changes nothing for anybody)."""
        before = self.registry.epoch(storage_id) or 0
        self.registry.raise_epoch(storage_id, epoch)
        if epoch > before:
            self._owners_changed(storage_id)

    @contextmanager
    def _as_owner(self, storage_id: Any, epoch: Any, what: str) -> Iterator[bool]:
        """Whether a report comes from the storage's owner: False when the storage is unknown or
        the report's epoch is below the committed one. Such a report is a stale twin's (an
        actor a healed partition left behind, or its reports retried after it was fenced): its
        state, sessions, snapshot and windows are not the storage's, and applying them would mark
        a healthy storage failed or forget the owner's session handles. Held while the report's
        writes run (``Registry.owner_writes``): an epoch committed meanwhile (another thread's
        ``confirm_epoch``) waits for them, never lands between the check and the writes."""
        if not isinstance(storage_id, str):
            yield False
            return
        with self.registry.owner_writes(storage_id) as committed:
            if committed is not None and int(epoch) < committed:
                with self._locks_guard:        # reports arrive on the supervisor's many threads
                    self.stale_reports += 1
                log.warning("storage %s: %s from epoch %s dropped: epoch %s is committed", storage_id, what,
                            epoch, committed)
            yield committed is not None and int(epoch) >= committed

    def _alert(self, name: str, storage_id: str, detail: str = "") -> dict[str, Any]:
        row = self.registry.get(storage_id)
        storage = Registry.storage_dict(row) if row else None
        alert = self.registry.add_alert(make_alert(name, storage_id, detail, storage))
        log.warning("alert %s for storage %s", name, storage_id)
        self.webhooks.send(alert)
        return alert

    # -- create -------------------------------------------------------------------------------
    def discover_storage(self, access_info: Any, request_id: Optional[str] = None) -> dict[str, Any]:
        """``request_id``: the caller's name for this registration, for ``settle_registration``."""
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInput("request_id must be a string")
        access = AccessInfo.parse(access_info)
        collection_options(access)
        driver_cls = load_driver_class(access.vendor, access.model)
        endpoint = access.endpoint()
        with self._exclusive(self._endpoint_locks, endpoint, "registration") \
                if driver_cls.endpoint_identifies_array else nullcontext():
            if driver_cls.endpoint_identifies_array and self.registry.find_endpoint(endpoint):
                raise StorageAlreadyExists(endpoint)
            self._requests.check(request_id)
            storage_id = str(uuid.uuid4())
            actor = self._new_actor(storage_id)
            connect = actor.connect.remote(access, None, 1, "register")
            try:
                storage = self._get(connect)
                serial = str(storage["serial_number"])
                with self._requests.commit(request_id) as registered:
                    if self.registry.find_serial(access.vendor, access.model, serial):
                        raise StorageAlreadyExists(serial)          # its session is logged out below
                    self.registry.add(storage_id, access, {**storage, "id": storage_id},
                                      display_name=access.storage_name)
                    registered(storage_id)
                self._owners_changed(storage_id)
            except BaseException:
                self._close_actor(actor, connect)
                self.balancer.forget(storage_id)
                raise
        self.registry.start_sync(storage_id, self.cfg.sync_expiration_s)
        actor.republish_sessions.remote()   # its session reports before the row above were dropped
        actor.sync.remote()        # first inventory, as Delfin syncs after registering
        log.info("storage %s registered (%s)", storage_id, endpoint)
        return self.storage_view(storage_id)

    @ray.method(concurrency_group="answers")
    def settle_registration(self, request_id: str) -> Optional[dict[str, Any]]:
        """Asked by a caller whose wait for ``discover_storage(..., request_id)`` ran out: the
        storage, if that registration was committed; else None, and it never will be (its login
        is logged out when it lands)."""
        if not isinstance(request_id, str):
            raise InvalidInput("request_id must be a string")
        storage_id = self._requests.settle(request_id, self.cfg.close_timeout_s)
        if storage_id is None and self.restarted and time.monotonic() - self._started < self.cfg.connect_deadline_s:
            # what this process never saw may have been committed by the one before it
            raise StorageBackendException("the driver manager restarted while the registration was under way")
        return None if storage_id is None else self.storage_view(storage_id)

    # -- update -------------------------------------------------------------------------------
    def update_access_info(self, storage_id: str, access_info: Any) -> dict[str, Any]:
        if not isinstance(storage_id, str) or not storage_id:
            raise InvalidInput("storage_id must be a non-empty string")
        if not isinstance(access_info, dict):
            raise InvalidInput("access_info must be an object")
        with self._exclusive(self._storage_locks, storage_id, "access-info update"):
            current = self.registry.access_info(storage_id)
            if current is None:
                raise AccessInfoNotFound(storage_id)
            merged = self._merge(current, access_info)
            collection_options(merged)
            storage = self._reconnect(storage_id, merged, "update")
            self._accept_access(storage_id, merged, storage)
            return Registry.public_access(self.registry.get(storage_id))

    def _accept_access(self, storage_id: str, access: AccessInfo, storage: dict[str, Any]) -> None:
        """New access info proved itself (login and serial): persist it; the rejection is over."""
        self.registry.update_access(storage_id, access, {**storage, "id": storage_id})
        self.registry.set_session_state(storage_id, "ready")
        self._recovered(storage_id)

    def _recovered(self, storage_id: str) -> None:
        """Clear the open fault alerts; one StorageRecovered when there were any (idempotent)."""
        if self.registry.clear_alerts(storage_id, FAULT_ALERTS):
            self._alert("StorageRecovered", storage_id)

    @staticmethod
    def _merge(current: AccessInfo, patch: dict[str, Any]) -> AccessInfo:
        """Delfin's driver API takes the whole access info (as Delfin's update controller builds it:
        stored blocks updated key by key with the body's); vendor and model must be the registered
        ones. The HTTP route checks Delfin's stricter update schema before it gets here."""
        for key in ("vendor", "model"):
            if key in patch and patch[key] != getattr(current, key):
                raise InvalidInput(f"{key}: {patch[key]!r} does not match the registered {getattr(current, key)!r}")
        data = current.reveal()
        for key in ("rest", "ssh", "cli", "smis", "extra_attributes"):
            if key in patch:
                block = patch[key]
                if isinstance(block, dict) and isinstance(data.get(key), dict) and key != "extra_attributes":
                    block = {**data[key], **block}   # a block without password keeps the old one
                data[key] = block
        unknown = set(patch) - {"vendor", "model", "rest", "ssh", "cli", "smis", "extra_attributes", "storage_id",
                                "created_at", "updated_at"}    # what Delfin's access-info rows also carry
        if unknown:
            raise InvalidInput(f"{sorted(unknown)[0]}: unknown field")
        return AccessInfo.parse(data)

    def _reconnect(self, storage_id: str, access: AccessInfo, origin: str) -> dict[str, Any]:
        """Connect the storage's actor (created if missing) with ``access``. The new epoch is
        proposed with the call and committed only once the actor confirmed the connect, so a
        busy control lane can never make the rightful owner look stale."""
        row = self.registry.get(storage_id)
        serial = row["serial_number"] if row else None
        try:
            actor = get_storage_actor(storage_id, self.cfg.namespace)
        except StorageNotFound:
            actor = self._new_actor(storage_id)
        epoch = (self.registry.epoch(storage_id) or 0) + 1
        attempt = uuid.uuid4().hex
        connect = actor.connect.remote(access, serial, epoch, origin, attempt)
        if ray.wait([connect], timeout=self.cfg.control_timeout_s)[0]:
            storage = self._get(connect)
        else:   # given up on: a connect reported as failed must not change the session afterwards
            storage = self._get(actor.abandon_connect.remote(attempt), self.cfg.close_timeout_s)
            if storage is None:
                raise _no_answer()
        self._commit_epoch(storage_id, epoch)
        return storage

    # -- delete -------------------------------------------------------------------------------
    def remove_storage(self, storage_id: str, drop_metrics: bool = False) -> None:
        """Tombstone, close (logout), kill, forget; its metrics too when asked (or configured)."""
        if not isinstance(storage_id, str) or self.registry.get(storage_id, include_deleting=True) is None:
            raise StorageNotFound(storage_id)
        with self._exclusive(self._storage_locks, storage_id, "removal"):
            self._remove_held(storage_id, drop_metrics)

    def _remove_held(self, storage_id: str, drop_metrics: bool = False) -> None:
        """The removal itself; the caller holds the storage's lock."""
        self.registry.tombstone(storage_id)
        try:
            self._close_actor(get_storage_actor(storage_id, self.cfg.namespace))
        except StorageNotFound:
            pass
        self.registry.delete(storage_id)
        self._owners_changed(storage_id)
        self.balancer.forget(storage_id)
        if drop_metrics or self.cfg.drop_metrics_on_remove:
            try:
                ParquetSink(self.cfg.metrics_root).drop_storage(storage_id)
            except OSError as exc:   # the storage is gone; its files can be deleted by hand
                log.warning("storage %s: metrics not deleted: %s", storage_id, exc)
        log.info("storage %s removed", storage_id)

    # -- metrics retention ------------------------------------------------------------------
    def _retention_loop(self) -> None:
        """Every ``retention_check_s``: days older than ``metrics_retention_days`` leave the dataset."""
        while True:
            if self.cfg.metrics_retention_days:
                try:
                    removed = ParquetSink(self.cfg.metrics_root).expire(self.cfg.metrics_retention_days,
                                                                        int(time.time() * 1000))
                    if removed:
                        log.info("metrics retention: %d day partitions removed", removed)
                except Exception:
                    log.exception("metrics retention failed")
            time.sleep(self.cfg.retention_check_s)

    def _close_actor(self, actor: Any, connect: Any = None) -> None:
        """Close (log out), then kill. ``connect``: a login of a registration that failed, which
        may still be under way: it is let end first (the session core logs out a session that
        arrives after close), since a kill in the middle of a login left that session open at
        the array until its idle timeout."""
        try:
            ray.get(actor.close.remote(), timeout=self.cfg.close_timeout_s)
            if connect is not None:
                ray.wait([connect], timeout=self.cfg.close_timeout_s)
        except Exception as exc:  # dead or stuck: kill it anyway
            log.warning("close before kill failed: %s", type(exc).__name__)
        self._kill(actor)

    # -- queries ------------------------------------------------------------------------------
    def storage_exists(self, storage_id: str) -> bool:
        return isinstance(storage_id, str) and self.registry.get(storage_id) is not None

    def get_storage_record(self, storage_id: str) -> dict[str, Any]:
        """The registered storage as Delfin shows it, plus the driver it was registered with."""
        row = self._row(storage_id)
        return {**Registry.storage_dict(row), "vendor_driver": row["vendor"], "model_driver": row["model"]}

    def storage_view(self, storage_id: str) -> dict[str, Any]:
        """The registered storage as Delfin's API shows it (no array call)."""
        return Registry.storage_dict(self._row(storage_id))

    def _row(self, storage_id: Any) -> Any:
        row = self.registry.get(storage_id) if isinstance(storage_id, str) else None
        if row is None:
            raise StorageNotFound(storage_id)
        return row

    def list_storages(self) -> list[dict[str, Any]]:
        return [Registry.storage_dict(r) for r in self.registry.rows()]

    def get_access_info(self, storage_id: str) -> dict[str, Any]:
        row = self.registry.get(storage_id) if isinstance(storage_id, str) else None
        if row is None:
            raise AccessInfoNotFound(storage_id)
        return Registry.public_access(row)

    def list_access_infos(self) -> list[dict[str, Any]]:
        return [Registry.public_access(r) for r in self.registry.rows()]

    @ray.method(concurrency_group="reports")
    def actor_access_info(self, storage_id: str, node_id: Optional[str] = None
                          ) -> Optional[tuple[AccessInfo, int, bool, list[SecretStr]]]:
        """For a restarted storage actor only: its access info with passwords, a new epoch to
        claim (committed when it confirms, so a stale twin that survived a partition fences
        itself off), whether the array rejected these credentials (then: no login) and the
        sessions its predecessor left open (to end them). It says where Ray restarted it, so
        placement keeps counting it."""
        self.balancer.observe([(storage_id, node_id)])
        row = self.registry.get(storage_id)
        access = self.registry.access_info(storage_id)
        if row is None or access is None:
            return None
        return (access, int(row["epoch"]) + 1, row["session_state"] == "auth_failed",
                [SecretStr(h) for h in self.registry.sessions(storage_id)])

    @ray.method(concurrency_group="reports")
    def record_sessions(self, storage_id: str, epoch: int, handles: list[SecretStr]) -> None:
        """A storage actor's open sessions (tokens), sealed in the registry: a restart after
        kill -9 ends them. Reported in order and at least once; the owner's last report wins."""
        with self._as_owner(storage_id, epoch, "sessions report") as owner:
            if owner:
                self.registry.set_sessions(storage_id, [reveal_secret(h) for h in handles or ()])

    @ray.method(concurrency_group="reports")
    def current_epoch(self, storage_id: str) -> Optional[int]:
        return self.registry.epoch(storage_id) if isinstance(storage_id, str) else None

    @ray.method(concurrency_group="reports")
    def confirm_epoch(self, storage_id: str, epoch: int) -> None:
        """A storage actor holds a session at ``epoch``: commit it (idempotent, never lowers)."""
        if isinstance(storage_id, str) and self.registry.get(storage_id) is not None:
            self._commit_epoch(storage_id, int(epoch))

    def alerts(self, storage_id: Optional[str] = None, begin_time: Optional[int] = None,
               end_time: Optional[int] = None, open_only: bool = False) -> list[dict[str, Any]]:
        return self.registry.alerts(storage_id, begin_time, end_time, open_only)

    # -- sync snapshots ---------------------------------------------------------------------
    @ray.method(concurrency_group="reports")
    def save_snapshot(self, storage_id: str, epoch: int, snapshot: dict[str, Any], support: dict[str, dict]) -> None:
        """Persist a storage actor's sync (rows with stable ids); the sync is finished."""
        rows = snapshot_rows(storage_id, snapshot) if isinstance(storage_id, str) else {}
        with self._as_owner(storage_id, epoch, "snapshot") as owner:
            if owner:
                self.registry.save_snapshot(storage_id, rows, support)

    def resources(self, kind: str, storage_id: Optional[str] = None, rid: Optional[str] = None) -> list[dict]:
        if kind not in KINDS_BY_NAME:
            raise InvalidInput(f"unknown resource kind {kind!r}")
        return self.registry.resources(kind, storage_id, rid)

    def query_resources(self, kind: str, query: Query) -> list[dict]:
        """One page of a kind's rows, filtered and sorted as Delfin's API does."""
        if kind not in KINDS_BY_NAME:
            raise InvalidInput(f"unknown resource kind {kind!r}")
        return self._page(lambda: self.registry.query_resources(kind, query), query)

    def query_storages(self, query: Query) -> list[dict]:
        return self._page(lambda: self.registry.query_storages(query), query)

    @staticmethod
    def _page(run: Any, query: Query) -> list[dict]:
        try:
            return run()
        except KeyError:
            raise InvalidInput(f"marker {query.marker} not found") from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def resource_row(self, kind: str, row_id: str) -> dict:
        """One row by id, or the kind's own not-found error (VolumeNotFound, ...)."""
        if kind not in KINDS_BY_NAME:
            raise InvalidInput(f"unknown resource kind {kind!r}")
        rows = self.registry.resources(kind, None, row_id) if isinstance(row_id, str) else []
        if not rows:
            raise ALL_ERRORS[KINDS_BY_NAME[kind].not_found](row_id)
        return rows[0]

    def support(self, storage_id: str) -> dict[str, dict]:
        if self.registry.get(storage_id) is None:
            raise StorageNotFound(storage_id)
        return self.registry.support(storage_id)

    def request_sync(self, storage_id: Optional[str] = None) -> list[str]:
        """Start a resource sync (fire and forget) of one storage or of all. As Delfin: one that
        is still syncing is StorageIsSyncing when asked alone, skipped when all are."""
        ids = [storage_id] if storage_id else [r["id"] for r in self.registry.rows()]
        started = []
        for sid in ids:
            if self.registry.get(sid) is None:
                raise StorageNotFound(sid)
            if not self.registry.start_sync(sid, self.cfg.sync_expiration_s):
                if storage_id:
                    raise StorageIsSyncing(sid)
                continue
            try:
                get_storage_actor(sid, self.cfg.namespace).sync.remote()
                started.append(sid)
            except StorageNotFound:
                pass
        return started

    # -- collection windows -------------------------------------------------------------------
    @ray.method(concurrency_group="reports")
    def collection_state(self, storage_id: str) -> dict[str, Any]:
        return self.registry.collection_state(storage_id)

    @ray.method(concurrency_group="reports")
    def record_collection(self, storage_id: str, epoch: int, last_end: int, pending: list, lost: list) -> None:
        """Called by a storage actor's scheduler after its ticks (``collection_report.py``):
        windows lost for the first time alert; ones reported again do not."""
        pending = [(int(s), int(e), str(r)) for s, e, r in pending]
        lost = [(int(s), int(e), str(r)) for s, e, r in lost]
        with self._as_owner(storage_id, epoch, "collection report") as owner:
            lost = self.registry.record_collection(storage_id, int(last_end), pending, lost) if owner else []
        if lost:
            first, last = min(w[0] for w in lost), max(w[1] for w in lost)
            self._alert("WindowLost", storage_id,
                        f"{len(lost)} window(s) between {first} and {last} ms fell out of the array's retention")

    # -- state changes reported by storage actors --------------------------------------------
    @ray.method(concurrency_group="reports")
    def on_state_change(self, storage_id: str, epoch: int, new: str, old: str, error: Optional[dict]) -> None:
        """A storage actor's state report. Delivered at least once (the actor retries until this
        returns), so every effect is idempotent: one open alert per fault, and it returns at once
        (the credentials script runs in the background)."""
        with self._as_owner(storage_id, epoch, f"state report {new!r}") as owner:
            if owner:
                self.registry.set_session_state(storage_id, new)
        if not owner:
            return
        if new == "auth_failed":
            if self.cfg.credentials_script:
                self._start_heal(storage_id)
            else:
                self._alert_once("CredentialsRejected", storage_id)
        elif new == "unreachable":
            self._alert_once("StorageUnreachable", storage_id, (error or {}).get("error_msg", ""))
        elif new == "ready" and old in ("auth_failed", "unreachable"):
            self._recovered(storage_id)

    def _alert_once(self, name: str, storage_id: str, detail: str = "") -> None:
        if not self.registry.has_open_alert(storage_id, name):
            self._alert(name, storage_id, detail)

    def _start_heal(self, storage_id: str) -> None:
        with self._locks_guard:
            if storage_id in self._healing:
                return
            self._healing.add(storage_id)
        def run() -> None:
            try:
                if not self._heal_credentials(storage_id):
                    self._alert_once("CredentialsRejected", storage_id)
            except Exception:
                log.exception("storage %s: credential healing failed", storage_id)
                self._alert_once("CredentialsRejected", storage_id)
            finally:
                with self._locks_guard:
                    self._healing.discard(storage_id)
        threading.Thread(target=run, daemon=True, name=f"heal-{storage_id[:8]}").start()

    def _heal_credentials(self, storage_id: str) -> bool:
        """Ask the credentials script once; retry the login once if it knows better. False when
        the rejection stands (the caller alerts). It waits for the storage's lock, so an update or
        a removal may have come first: then there is nothing left to heal."""
        script = self.cfg.credentials_script
        with self._lock_for(self._storage_locks, storage_id):
            current = self._still_rejected(storage_id)
            if current is None:
                log.info("storage %s: no longer rejected when the credentials refresh got its turn; left as it is",
                         storage_id)
                return True
            healed = current.reveal()
            changed = False
            for name in ("rest", "ssh"):
                block = getattr(current, name)
                if block is None:
                    continue
                got = credentials.fetch(script, block.host, block.username, self.cfg.credentials_script_timeout_s)
                if got and (got[0], got[1]) != (block.username, block.password and block.password.get_secret_value()):
                    healed[name]["username"], healed[name]["password"] = got
                    changed = True
            if not changed:
                return False
            fresh = AccessInfo.parse(healed)
            try:
                storage = self._reconnect(storage_id, fresh, "update")
            except DelfinError as exc:
                log.warning("storage %s: credentials from the script rejected too (%s)", storage_id, exc.error_code)
                return False
            self._accept_access(storage_id, fresh, storage)
            log.info("storage %s: credentials refreshed from the credentials script", storage_id)
            return True

    def _still_rejected(self, storage_id: str) -> Optional[AccessInfo]:
        """The registered access info when the storage's actor holds it rejected now; else None
        (an update that came first ended the rejection, or a removal the storage). Whatever
        access info that is: one an update installed and the array rejected since is healed
        too. The actor is asked, not the registry: its reports reach the registry in order but
        not at once, so a rejection reported after the update that ended it would leave the
        registry saying ``auth_failed`` for a moment. Caller holds the storage's lock."""
        row = self.registry.get(storage_id)
        if row is None:
            return None
        try:
            actor = get_storage_actor(storage_id, self.cfg.namespace)
            state = self._get(actor.state.remote(), self.cfg.close_timeout_s)["state"]   # the lock is held
        except (DelfinError, RayActorError) as exc:     # restarting: the registry's word, then
            log.info("storage %s: state unknown before a credentials refresh (%s)", storage_id, type(exc).__name__)
            state = row["session_state"]
        return self.registry.access_info(storage_id) if state == "auth_failed" else None

    # -- reconcile ----------------------------------------------------------------------------
    def _safe_reconcile(self) -> None:
        try:
            self.reconcile()
        except Exception:
            log.exception("reconcile failed")

    def reconcile(self) -> dict[str, Any]:
        """Registry vs live named actors: adopt live, recreate missing, kill orphans, finish
        removals a crash cut short. Callers are served meanwhile, so each storage is settled
        holding its lock, from its row as it is then: one a caller is changing is passed over
        and settled after the others (its change may have settled it: removed, or recreated)."""
        registered = [r["id"] for r in self.registry.rows(include_deleting=True)]
        live = live_storage_actor_ids(self.cfg.namespace)
        report: dict[str, list[str]] = {"adopted": [], "recreated": [], "orphans_killed": [], "finished_deletes": [],
                                        "removed_meanwhile": [], "failed": [], "waited_for_callers": []}
        for sid in live - set(registered):
            self._close_actor(get_storage_actor(sid, self.cfg.namespace))
            report["orphans_killed"].append(sid)
        self._observe_placements(live & set(registered))
        busy = []
        for sid in registered:
            try:
                with self._exclusive(self._storage_locks, sid, "restart recovery"):
                    self._settle(sid, report)
            except StorageBusy:
                busy.append(sid)
        for sid in busy:            # a background thread: it can wait for the caller's change
            with self._lock_for(self._storage_locks, sid):
                report["waited_for_callers"].append(sid)
                self._settle(sid, report)
        self.last_reconcile = {**report, "at": time.time()}
        return self.last_reconcile

    def _settle(self, storage_id: str, report: dict[str, list[str]]) -> None:
        """One registered storage at restart, as its row and actor are now (a caller's change
        since the listing may have removed the one or started the other); the caller holds its
        lock. A failure is logged and reported, and stops no other storage's recovery."""
        try:
            row = self.registry.get(storage_id, include_deleting=True)
            if row is None:
                report["removed_meanwhile"].append(storage_id)
            elif row["status"] == "deleting":
                self._remove_held(storage_id)
                report["finished_deletes"].append(storage_id)
            elif self._has_actor(storage_id):
                report["adopted"].append(storage_id)
            else:
                self._recreate(storage_id, row)
                report["recreated"].append(storage_id)
        except Exception:
            log.exception("storage %s: not recovered at restart", storage_id)
            report["failed"].append(storage_id)

    def _has_actor(self, storage_id: str) -> bool:
        try:
            get_storage_actor(storage_id, self.cfg.namespace)
            return True
        except StorageNotFound:
            return False

    def _recreate(self, storage_id: str, row: Any) -> None:
        """A registered storage without an actor: start one. It logs in with the stored access
        info, unless the array rejected those credentials: then it waits in auth_failed."""
        access = self.registry.access_info(storage_id)
        actor = self._new_actor(storage_id)
        left = self.registry.sessions(storage_id)
        if left:                     # the cluster went down hard: end the sessions it left
            self._get(actor.adopt_sessions.remote([SecretStr(h) for h in left]))
        if row["session_state"] == "auth_failed":
            epoch = int(row["epoch"]) + 1
            self._get(actor.hold_rejected.remote(access, epoch))
            self._commit_epoch(storage_id, epoch)
            return
        try:
            self._reconnect(storage_id, access, "recover")
        except DelfinError as exc:   # the actor lives on in its error state
            log.warning("storage %s recreated but not connected: %s", storage_id, exc.error_code)

    def _observe_placements(self, storage_ids: set[str]) -> None:
        """Learn where live actors run, so new ones balance against the real spread."""
        refs = {}
        for sid in storage_ids:
            try:
                refs[sid] = get_storage_actor(sid, self.cfg.namespace).state.remote()
            except StorageNotFound:
                pass
        if not refs:
            return
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=self.cfg.close_timeout_s)
        ready_set, found = set(ready), []
        for sid, ref in refs.items():
            if ref in ready_set:
                try:
                    found.append((sid, ray.get(ref).get("node_id")))
                except Exception:   # died meanwhile: Ray places its restart
                    pass
        self.balancer.observe(found)

    def placements(self) -> dict[str, Any]:
        """Storage actors per node, as the supervisor balances them."""
        return {"nodes": self.balancer.counts(), "storages": self.balancer.snapshot()}

    def shutdown_all(self) -> int:
        """Close every storage actor (logout) without forgetting them: for a clean stop."""
        n = 0
        for sid in live_storage_actor_ids(self.cfg.namespace):
            try:
                self._close_actor(get_storage_actor(sid, self.cfg.namespace))
                n += 1
            except StorageNotFound:
                pass
        return n


def supervisor_class(cfg: Config) -> Any:
    return ray.remote(num_cpus=cfg.actor_num_cpus, max_restarts=-1, max_task_retries=0, max_concurrency=CALLER_THREADS,
                      concurrency_groups=GROUPS)(Supervisor)
