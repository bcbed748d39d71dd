"""The driver interface: Delfin's ``StorageDriver`` method names, arguments and shapes.

One rule replaces Delfin's mix of abstract methods, ``NotImplementedError`` and silent
``pass``: every method the base defines raises ``NotSupported``; a vendor driver overrides
what its array supports. ``resource_result`` turns that into ``supported`` / ``not_supported``
/ ``failed`` so an unsupported type never looks like an empty one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

from .access_info import AccessInfo
from .errors import DelfinError, InvalidInput, NotSupported, StorageBackendException
from .models import KINDS_BY_METHOD, RESOURCE_KINDS

log = logging.getLogger(__name__)

#: list methods that take only the context (one per resource kind)
LIST_METHODS: tuple[str, ...] = tuple(k.method for k in RESOURCE_KINDS)

#: every session-bound driver method the runtime dispatches, with its concurrency lane:
#: "control" calls never wait behind "bulk" ones.
DRIVER_METHODS: dict[str, Literal["control", "bulk"]] = {
    "get_storage": "control",
    **{m: "bulk" for m in LIST_METHODS},
    "list_alerts": "bulk",
    "clear_alert": "bulk",
    "add_trap_config": "control",
    "remove_trap_config": "control",
    "collect_perf_metrics": "bulk",
    "get_capabilities": "control",
    "get_latest_perf_timestamp": "bulk",
    # which addresses the array sends alerts from: asked when a trap arrives, so not behind a sync
    "get_alert_sources": "control",
}

#: methods that change nothing on the array: safe to retry across an actor restart
IDEMPOTENT_METHODS: frozenset[str] = frozenset(
    {"get_storage", "list_alerts", "get_capabilities", "get_latest_perf_timestamp", "get_alert_sources",
     *LIST_METHODS})


class StorageDriver:
    """Base class: construct with the access info (as Delfin, keyword arguments), which logs in.

    Class attributes carry the metadata; a vendor driver overrides what it supports.
    """

    vendor: ClassVar[str] = ""
    model: ClassVar[str] = ""
    #: True when (host, port) identifies one array, so a second registration of the same
    #: endpoint is refused before logging in. The fake driver sets it False (no real endpoint).
    endpoint_identifies_array: ClassVar[bool] = True
    #: How many calls may run at once on one instance (one session). The runtime lets no more
    #: through, control calls ahead of queued bulk calls. Keep the default, 1, unless the driver
    #: is written for concurrent use (its session, token refresh and transport) and a test of
    #: yours proves it under concurrent calls with the session expiring midway.
    max_concurrent_calls: ClassVar[int] = 1

    def __init__(self, **kwargs: Any) -> None:
        self.access_info: AccessInfo = AccessInfo.parse(kwargs)
        self.storage_id: Optional[str] = kwargs.get("storage_id")

    # -- session -------------------------------------------------------------------------
    def reset_connection(self, context: Any, **kwargs: Any) -> None:
        raise NotSupported("reset_connection")

    def close(self) -> None:
        """Log out. Idempotent. After it, the instance must never log in again (the runtime
        never calls it again either). Drivers without a session need not override it."""

    def session_handle(self) -> Optional[str]:
        """What lets another process end this instance's current session without logging in
        (a REST token), or None. The runtime keeps it sealed in the registry, so a storage actor
        killed with -9 leaves no session behind: its restart calls ``release_session`` with it.
        Sessions that die with the process (an SSH connection) need none."""
        return None

    @classmethod
    def release_session(cls, access_info: AccessInfo, handle: str) -> None:
        """End the session ``handle`` names, left by a process that died, without logging in.
        Return when it is ended (or the array no longer knows it); raise a Delfin error when the
        array cannot be reached or refuses for now, and the runtime tries again before its next
        logins (``MAX_RELEASE_TRIES`` times)."""
        raise NotSupported("release_session")

    # -- inventory -----------------------------------------------------------------------
    def get_storage(self, context: Any) -> dict:
        raise NotSupported("get_storage")

    def list_storage_pools(self, context: Any) -> list[dict]:
        raise NotSupported("list_storage_pools")

    def list_volumes(self, context: Any) -> list[dict]:
        raise NotSupported("list_volumes")

    def list_controllers(self, context: Any) -> list[dict]:
        raise NotSupported("list_controllers")

    def list_ports(self, context: Any) -> list[dict]:
        raise NotSupported("list_ports")

    def list_disks(self, context: Any) -> list[dict]:
        raise NotSupported("list_disks")

    def list_quotas(self, context: Any) -> list[dict]:
        raise NotSupported("list_quotas")

    def list_filesystems(self, context: Any) -> list[dict]:
        raise NotSupported("list_filesystems")

    def list_qtrees(self, context: Any) -> list[dict]:
        raise NotSupported("list_qtrees")

    def list_shares(self, context: Any) -> list[dict]:
        raise NotSupported("list_shares")

    def list_storage_host_initiators(self, context: Any) -> list[dict]:
        raise NotSupported("list_storage_host_initiators")

    def list_storage_hosts(self, context: Any) -> list[dict]:
        raise NotSupported("list_storage_hosts")

    def list_storage_host_groups(self, context: Any) -> dict:
        raise NotSupported("list_storage_host_groups")

    def list_port_groups(self, context: Any) -> dict:
        raise NotSupported("list_port_groups")

    def list_volume_groups(self, context: Any) -> dict:
        raise NotSupported("list_volume_groups")

    def list_masking_views(self, context: Any) -> list[dict]:
        raise NotSupported("list_masking_views")

    # -- alerts --------------------------------------------------------------------------
    def list_alerts(self, context: Any, query_para: Optional[dict] = None) -> list[dict]:
        raise NotSupported("list_alerts")

    def clear_alert(self, context: Any, sequence_number: str) -> None:
        raise NotSupported("clear_alert")

    def add_trap_config(self, context: Any, trap_config: dict) -> None:
        raise NotSupported("add_trap_config")

    def remove_trap_config(self, context: Any, trap_config: dict) -> None:
        raise NotSupported("remove_trap_config")

    @staticmethod
    def parse_alert(context: Any, alert: dict) -> dict:
        raise NotSupported("parse_alert")

    def get_alert_sources(self, context: Any) -> list[dict]:
        """The addresses the array sends alerts from besides its access address, ``[{"host":
        ip}, ...]`` (Delfin's shape: a controller's or the cluster's management address)."""
        raise NotSupported("get_alert_sources")

    # -- performance ---------------------------------------------------------------------
    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: dict,
                             start_time: int, end_time: int) -> Any:
        """Return a METRIC_SCHEMA ``pyarrow.Table`` (fast path) or a list of ``Metric``."""
        raise NotSupported("collect_perf_metrics")

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> dict:
        raise NotSupported("get_capabilities")

    def get_latest_perf_timestamp(self, context: Any) -> int:
        raise NotSupported("get_latest_perf_timestamp")


@dataclass
class ResourceResult:
    """Outcome of one list call: rows only when supported; never ``[]`` for unsupported."""

    status: Literal["supported", "not_supported", "failed"]
    rows: Any = None
    error: Optional[dict[str, Any]] = None
    count: int = field(default=0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.status == "supported":
            out["count"] = self.count
        if self.error:
            out["error"] = self.error
        return out


def resource_result(driver: StorageDriver, method: str, context: Any = None) -> ResourceResult:
    """Run one list method and classify the outcome (the one support helper)."""
    if method not in KINDS_BY_METHOD:
        raise ValueError(f"{method} is not a list method")
    try:
        rows = getattr(driver, method)(context)
    except NotSupported:
        return ResourceResult("not_supported")
    except DelfinError as exc:
        return ResourceResult("failed", error=exc.to_dict())
    except Exception as exc:  # a driver bug: report it, keep the cause in the log
        log.exception("driver %s.%s failed", type(driver).__name__, method)
        return ResourceResult("failed", error=StorageBackendException(f"{type(exc).__name__}: {exc}").to_dict())
    if rows is None:
        return ResourceResult("failed", error=StorageBackendException(f"{method} returned None").to_dict())
    count = sum(len(v) for v in rows.values()) if isinstance(rows, dict) else len(rows)
    return ResourceResult("supported", rows=rows, count=count)


def perf_window(start_time: Any, end_time: Any) -> tuple[int, int]:
    """Validate a perf window (epoch ms, start < end) once for every driver and caller."""
    try:
        start, end = int(start_time), int(end_time)
    except (TypeError, ValueError):
        raise InvalidInput("start_time and end_time must be epoch milliseconds") from None
    if isinstance(start_time, bool) or isinstance(end_time, bool) or start < 0 or end <= start:
        raise InvalidInput("need 0 <= start_time < end_time (epoch milliseconds)")
    return start, end
