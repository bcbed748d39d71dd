"""``fake_storage fake_driver``: Delfin's fake driver, in-process and deterministic.

extra_attributes: ``seed`` (same seed -> same array; none -> a fresh serial per instance, as
Delfin's), sizes ``pools``/``volumes``/``ports``/``disks``/``controllers``, ``latency_ms`` per
call, ``metric_format`` ("arrow" fast path or "list" for Delfin's Metric list),
``perf_interval`` (s), ``retention`` (s) and ``duplicate_disk`` ("true": one more disk row with
the first one's native id, as Delfin's end-to-end data has). All are strings. File resources
are deliberately not supported.
"""
from __future__ import annotations

import random
import time
from typing import Any, Optional

from . import inventory, perfgen
from .arrow_schema import Metric, table_to_metrics
from .base import StorageDriver, perf_window
from .errors import InvalidInput
from .perf_catalog import normalise_request, resource_metrics_for

PERF_TYPES = ["storage", "storagePool", "volume", "port", "disk", "controller"]


class FakeStorageDriver(StorageDriver):
    vendor = "fake_storage"
    model = "fake_driver"
    endpoint_identifies_array = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        extra = self.access_info.extra_attributes
        try:
            seed = extra.get("seed")
            self._seed = int(seed) if seed is not None else random.SystemRandom().randrange(2**31)
            sizes = {k: int(extra[k]) for k in inventory.DEFAULT_SIZES if k in extra}
            self._latency = float(extra.get("latency_ms", 0)) / 1000.0
            self._format = str(extra.get("metric_format", "arrow"))
            self._interval = int(extra.get("perf_interval", 60))
            self._retention = int(extra.get("retention", 7200))
            self._duplicate_disk = extra.get("duplicate_disk", "false").lower() == "true"
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"extra_attributes: {exc}") from None
        if any(v < 0 for v in sizes.values()) or self._interval < 1:
            raise InvalidInput("extra_attributes: sizes must be >= 0 and perf_interval >= 1")
        self._inv = inventory.generate(self._seed, sizes, name=f"fake-{self._seed}")

    def _wait(self) -> None:
        if self._latency:
            time.sleep(self._latency)

    def get_storage(self, context: Any) -> dict:
        self._wait()
        return dict(self._inv.storage)

    def list_storage_pools(self, context: Any) -> list[dict]:
        self._wait()
        return [dict(r, storage_id=self.storage_id) for r in self._inv.pools]

    def list_volumes(self, context: Any) -> list[dict]:
        self._wait()
        return [dict(r, storage_id=self.storage_id) for r in self._inv.volumes]

    def list_controllers(self, context: Any) -> list[dict]:
        self._wait()
        return [dict(r, storage_id=self.storage_id) for r in self._inv.controllers]

    def list_ports(self, context: Any) -> list[dict]:
        self._wait()
        return [dict(r, storage_id=self.storage_id) for r in self._inv.ports]

    def list_disks(self, context: Any) -> list[dict]:
        self._wait()
        rows = [dict(r, storage_id=self.storage_id) for r in self._inv.disks]
        if self._duplicate_disk and rows:      # as in Delfin's own e2e data: two disks, one native id
            rows.append(dict(rows[0], name=f"{rows[0]['name']}-twin", location="shelf-1/slot-0"))
        return rows

    def list_alerts(self, context: Any, query_para: Optional[dict] = None) -> list[dict]:
        self._wait()
        return []

    def clear_alert(self, context: Any, sequence_number: str) -> None:
        self._wait()

    @staticmethod
    def parse_alert(context: Any, alert: dict) -> dict:
        return {"alert_id": str(alert.get("alert_id", "fake")), "alert_name": "fake alert",
                "severity": "Warning", "category": "Fault", "type": "EquipmentAlarm",
                "sequence_number": str(alert.get("sequence_number", "0")),
                "occur_time": int(alert.get("occur_time", time.time() * 1000)),
                "description": str(alert.get("description", "fake trap")),
                "resource_type": "Storage", "location": "fake", "match_key": "fake"}

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> dict:
        return {"is_historic": True, "performance_metric_retention_window": self._retention,
                "collect_interval": self._interval, "failed_job_collect_interval": 900,
                "resource_metrics": resource_metrics_for(PERF_TYPES)}

    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: dict,
                             start_time: int, end_time: int) -> Any:
        start_time, end_time = perf_window(start_time, end_time)
        self._wait()
        oldest = int(time.time() * 1000) - self._retention * 1000
        ts = perfgen.sample_times(max(int(start_time), oldest), int(end_time), self._interval)
        table = perfgen.perf_table(self._seed, storage_id,
                                   normalise_request(resource_metrics, PERF_TYPES),
                                   self._inv.perf_resources(), ts)
        if self._format == "list":
            return table_to_metrics(table) if table.num_rows else list[Metric]()
        return table

    def get_latest_perf_timestamp(self, context: Any) -> int:
        step = self._interval * 1000
        return int(time.time() * 1000) // step * step
