"""``DriverManagerClient``: a drop-in for ``delfin.drivers.api.API`` on actor handles.

Same method names and arguments (context first). Driver calls go through one generic
dispatch path (``_call_storage``) built from ``drivers.DRIVER_METHODS``; lifecycle calls go to
the supervisor. Errors come out as plain Delfin errors: a removed storage's dead actor is
StorageNotFound; idempotent reads ride over an actor restart within a deadline; mutations
are never retried blindly.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Optional

import pyarrow as pa
import ray
from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError, RayTaskError

from drivers import DRIVER_METHODS, IDEMPOTENT_METHODS, load_driver_class
from drivers.errors import InvalidInput, StorageBackendException, StorageNotFound

from .config import Config
from .metrics import transfer
from .naming import get_storage_actor, get_supervisor
from .runtime import init_ray
from .supervisor import unwrap

try:  # Ray >= 2.8
    from ray.exceptions import ActorUnavailableError
except ImportError:  # pragma: no cover
    ActorUnavailableError = RayActorError

RESTART_DEADLINE_S = 60.0
RETRY_PAUSE_S = 0.5
ACTOR_GONE = (RayActorError, ActorUnavailableError)


def driver_call(method: str, args: tuple, kwargs: dict) -> tuple:
    """The arguments of ``call_control``/``call_bulk`` for one driver method, without the empty
    trailing ones: Ray serializes each argument it is given (~0.05 ms each, measured against a
    bare actor call), and most control calls have neither positional nor keyword arguments."""
    if kwargs:
        return method, tuple(args), kwargs
    return (method, tuple(args)) if args else (method,)


def _check_id(storage_id: Any) -> str:
    if not isinstance(storage_id, str) or not storage_id or len(storage_id) > 200:
        raise InvalidInput("storage_id must be a non-empty string")
    return storage_id


def after_storage_failure(exc: BaseException, storage_id: str, what: str, exists: bool, deadline: float,
                          retry_on_restart: bool) -> None:
    """The one rule for a failed call to a storage actor (sync and async clients): raise the
    error the caller gets, or return to try again after a pause.

    A storage the supervisor no longer knows is StorageNotFound in every process; an actor being
    recreated (its name not there yet) is waited for; a restarted actor is retried only for
    calls that change nothing (``retry_on_restart``), within ``RESTART_DEADLINE_S``."""
    if not exists:
        raise StorageNotFound(storage_id) from None
    if isinstance(exc, ACTOR_GONE) and not retry_on_restart:
        raise StorageBackendException(f"the session actor of {storage_id} restarted during {what}; not retried") from None
    if time.monotonic() > deadline:
        if isinstance(exc, StorageNotFound):
            raise StorageNotFound(storage_id) from None
        raise StorageBackendException(f"the session actor of {storage_id} did not come back") from None


def abandon(ref: Any) -> None:
    """A call its caller stopped waiting for: read its outcome whenever it comes. Ray would
    otherwise log a late error as "Unhandled error" in the caller's process, though the caller
    was already told (no answer, or what the settle found). The async client needs none: an
    awaited ref's outcome is read when it comes."""
    ref.future().add_done_callback(lambda outcome: outcome.cancelled() or outcome.exception())


def no_answer(timeout: float) -> StorageBackendException:
    return StorageBackendException(f"no answer within {timeout:.0f} s")


def new_request_id() -> str:
    """A registration's name, for ``settle_registration`` if the caller's wait runs out."""
    return uuid.uuid4().hex


def registration_settled(view: Optional[dict], waited: float) -> dict:
    """The supervisor's answer to ``settle_registration``: the storage, registered after the
    caller's wait ran out; or None, the registration called off, nothing registered."""
    if view is None:
        raise StorageBackendException(f"no answer within {waited:.0f} s: the registration was called off "
                                      "and registered nothing; it can be retried")
    return view


def registration_unsettled(waited: float) -> StorageBackendException:
    """Neither the registration nor the question what became of it was answered."""
    return StorageBackendException(f"no answer within {waited:.0f} s, nor to what became of the registration: "
                                   "list the storages before retrying it")


def after_supervisor_failure(method: str, deadline: float) -> None:
    """Reads ride over a supervisor restart within the deadline; mutations are never retried."""
    if time.monotonic() > deadline or method not in SUPERVISOR_READS:
        raise StorageBackendException(f"the driver manager restarted during {method}") from None


class DriverManagerClient:
    """Join the cluster once; then every call is an actor call."""

    def __init__(self, address: Optional[str] = None, namespace: Optional[str] = None,
                 config: Optional[Config] = None) -> None:
        self.cfg = config or Config.load(namespace=namespace)
        init_ray(self.cfg, address)
        self._handles: dict[str, Any] = {}
        self._sup: Any = None

    # -- plumbing -----------------------------------------------------------------------------
    def _supervisor(self) -> Any:
        if self._sup is None:
            try:
                self._sup = get_supervisor(self.cfg.supervisor_name, self.cfg.namespace)
            except ValueError:
                raise StorageBackendException("the driver manager is not running (start it first)") from None
        return self._sup

    def _get(self, ref: Any, timeout: float, settle: Optional[Callable[[float], Any]] = None) -> Any:
        """``settle``: what to answer when the wait runs out, instead of the no-answer error."""
        try:
            return ray.get(ref, timeout=timeout)
        except RayTaskError as exc:
            raise unwrap(exc) from None
        except GetTimeoutError:
            abandon(ref)
            if settle is not None:
                return settle(timeout)
            raise no_answer(timeout) from None

    def _call_supervisor(self, method: str, *args: Any, settle: Optional[Callable[[float], Any]] = None) -> Any:
        deadline = time.monotonic() + RESTART_DEADLINE_S
        while True:
            try:
                return self._get(getattr(self._supervisor(), method).remote(*args),
                                 self.cfg.supervisor_timeout_s(method), settle)
            except ACTOR_GONE:
                self._sup = None
                after_supervisor_failure(method, deadline)
                time.sleep(RETRY_PAUSE_S)

    def _handle(self, storage_id: str) -> Any:
        handle = self._handles.get(storage_id)
        if handle is None:
            handle = self._handles[storage_id] = get_storage_actor(storage_id, self.cfg.namespace)
        return handle

    def _call_storage(self, storage_id: Any, method: str, args: tuple, kwargs: dict) -> Any:
        storage_id = _check_id(storage_id)
        lane = DRIVER_METHODS[method]
        return self._actor_call(storage_id, "call_control" if lane == "control" else "call_bulk", lane,
                                *driver_call(method, args, kwargs), retry_on_restart=method in IDEMPOTENT_METHODS)

    def _exists(self, storage_id: str) -> bool:
        return bool(self._call_supervisor("storage_exists", storage_id))

    # -- lifecycle (Delfin API names) ------------------------------------------------------------
    def discover_storage(self, context: Any, access_info: dict) -> dict:
        """When the wait (``connect_deadline_s``) runs out, the supervisor settles the
        registration: the storage if it was committed meanwhile, else it is called off."""
        request_id = new_request_id()

        def settle(waited: float) -> dict:
            try:
                view = self._get(self._supervisor().settle_registration.remote(request_id),
                                 self.cfg.control_timeout_s)
            except (StorageBackendException, *ACTOR_GONE):
                raise registration_unsettled(waited) from None
            return registration_settled(view, waited)
        return self._call_supervisor("discover_storage", access_info, request_id, settle=settle)

    def update_access_info(self, context: Any, access_info: dict) -> dict:
        if not isinstance(access_info, dict):
            raise InvalidInput("access_info must be an object")
        storage_id = _check_id(access_info.get("storage_id"))
        patch = {k: v for k, v in access_info.items() if k != "storage_id"}
        return self._call_supervisor("update_access_info", storage_id, patch)

    def remove_storage(self, context: Any, storage_id: str, drop_metrics: bool = False) -> None:
        """Delfin's remove; beyond it, ``drop_metrics`` deletes the storage's metrics too."""
        self._call_supervisor("remove_storage", _check_id(storage_id), bool(drop_metrics))
        self._handles.pop(storage_id, None)

    def parse_alert(self, context: Any, storage_id: str, alert: dict) -> dict:
        """Static in Delfin's drivers: needs no session, so it runs right here."""
        record = self._call_supervisor("get_storage_record", _check_id(storage_id))
        cls = load_driver_class(record["vendor_driver"], record["model_driver"])
        return cls.parse_alert(context, alert)

    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: Optional[dict],
                             start_time: int, end_time: int) -> pa.Table:
        """A ``pyarrow.Table`` in METRIC_SCHEMA, through the object store."""
        return self._call_storage(storage_id, "collect_perf_metrics",
                                  (storage_id, resource_metrics, start_time, end_time), {})

    # -- beyond Delfin ------------------------------------------------------------------------
    def list_storages(self) -> list[dict]:
        return self._call_supervisor("list_storages")

    def storage_record(self, storage_id: str) -> dict:
        """One registered storage from the registry (no array call; StorageNotFound if unknown)."""
        return self._call_supervisor("storage_view", _check_id(storage_id))

    def get_access_info(self, storage_id: str) -> dict:
        return self._call_supervisor("get_access_info", _check_id(storage_id))

    def list_access_infos(self) -> list[dict]:
        return self._call_supervisor("list_access_infos")

    def storage_state(self, storage_id: str) -> dict:
        return self._actor_call(storage_id, "state", "control")

    def resource_support(self, storage_id: str) -> dict:
        """Per list method: ``{"status": supported|not_supported|failed, "count"|"error"}``."""
        return self._actor_call(storage_id, "resource_support", "bulk")

    def sync(self, storage_id: str) -> dict:
        return self._actor_call(storage_id, "sync", "bulk")

    def resources(self, kind: str, storage_id: Optional[str] = None, resource_id: Optional[str] = None) -> list[dict]:
        """Rows of the last sync snapshot (persisted: answers while the array is down)."""
        return self._call_supervisor("resources", kind, storage_id, resource_id)

    def persisted_support(self, storage_id: str) -> dict:
        """Per list method support status of the last sync, as persisted."""
        return self._call_supervisor("support", _check_id(storage_id))

    def request_sync(self, storage_id: Optional[str] = None) -> list[str]:
        """Start a resource sync of one storage (or all) without waiting for it."""
        return self._call_supervisor("request_sync", storage_id if storage_id is None else _check_id(storage_id))

    def collection_stats(self, storage_id: str) -> dict:
        """Scheduler self-metrics: last success, points, windows pending/lost, duration."""
        return self._actor_call(storage_id, "collection_stats", "control")

    def recent_metrics(self, storage_id: str, windows: int = 1) -> pa.Table:
        """The newest collected windows as one table, without an array call: the ones the actor
        keeps (``recent_windows``) mapped from the object store, where they were put once when
        collected; else read back from the storage's Parquet files. If the actor restarts
        between its answer and the read, its objects are gone with it: asked again."""
        deadline = time.monotonic() + RESTART_DEADLINE_S
        while True:
            answer = self._actor_call(storage_id, "recent_metrics", "control", windows)
            try:
                return transfer.resolve(answer, self.cfg.control_timeout_s)
            except ObjectLostError:
                if time.monotonic() > deadline:
                    raise StorageBackendException(f"the windows of {storage_id} were lost with its actor") from None
                time.sleep(RETRY_PAUSE_S)
            except GetTimeoutError:
                raise StorageBackendException(f"windows of {storage_id} not read within "
                                              f"{self.cfg.control_timeout_s:.0f} s") from None

    def placements(self) -> dict:
        """Storage actors per alive node, as the supervisor balances new ones."""
        return self._call_supervisor("placements")

    def recovery_report(self) -> dict:
        """What the supervisor's last start recovered, per outcome, and ``at`` once done
        (README, "A supervisor restart"); ``{}`` while it runs."""
        return self._call_supervisor("reconcile_report")

    def alerts(self, storage_id: Optional[str] = None, begin_time: Optional[int] = None,
               end_time: Optional[int] = None, open_only: bool = False) -> list[dict]:
        return self._call_supervisor("alerts", storage_id, begin_time, end_time, open_only)

    def _actor_call(self, storage_id: str, name: str, lane: str, *args: Any, retry_on_restart: bool = True) -> Any:
        storage_id = _check_id(storage_id)
        timeout = self.cfg.control_timeout_s if lane == "control" else self.cfg.bulk_timeout_s
        deadline = time.monotonic() + RESTART_DEADLINE_S
        while True:
            try:
                return self._get(getattr(self._handle(storage_id), name).remote(*args), timeout)
            except (StorageNotFound, *ACTOR_GONE) as exc:
                self._handles.pop(storage_id, None)
                after_storage_failure(exc, storage_id, args[0] if args and isinstance(args[0], str) else name,
                                      self._exists(storage_id), deadline, retry_on_restart)
                time.sleep(RETRY_PAUSE_S)


#: supervisor methods that change nothing: retried over a supervisor restart
SUPERVISOR_READS = {"storage_exists", "list_storages", "get_access_info", "list_access_infos",
                    "get_storage_record", "alerts", "resources", "support", "query_storages",
                    "query_resources", "resource_row", "storage_view", "reconcile_report"}


def _storage_method(name: str) -> Any:
    def call(self: DriverManagerClient, context: Any, storage_id: str, *args: Any, **kwargs: Any) -> Any:
        return self._call_storage(storage_id, name, args, kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Delfin's ``API.{name}(context, storage_id, ...)`` through the storage's session actor."
    return call


for _name in DRIVER_METHODS:
    if not hasattr(DriverManagerClient, _name):
        setattr(DriverManagerClient, _name, _storage_method(_name))
