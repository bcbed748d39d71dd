"""What the REST and SSH simulator drivers share: metadata, row checks, capabilities."""
from __future__ import annotations

from typing import Any, Optional

from .base import StorageDriver
from .errors import BadResponse, InvalidInput, InvalidResults
from .models import validate_rows, validate_storage
from .perf_catalog import resource_metrics_for

PERF_TYPES = ["storage", "storagePool", "volume", "port", "disk", "controller"]
DEFAULT_TIMEOUT = 30.0


class SimulatorDriverBase(StorageDriver):
    """Shared by ``simulator rest`` and ``simulator ssh`` (no session logic here)."""

    vendor = "simulator"

    def _access_block(self) -> Any:
        """The access-info block this driver's protocol needs (``rest`` or ``ssh``)."""
        block = getattr(self.access_info, self.model)
        if block is None:
            raise InvalidInput(f"{self.model}: the simulator {self.model} driver needs a {self.model} block")
        return block

    def _timeout(self) -> float:
        return self.access_info.number("timeout", DEFAULT_TIMEOUT, 0.01, 600)

    def _storage(self, row: Any, coerce: bool = False) -> dict:
        try:
            return validate_storage(row, coerce=coerce)
        except InvalidResults as exc:
            raise BadResponse(exc.msg) from exc

    def _rows(self, method: str, rows: Any, coerce: bool = False) -> list[dict]:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadResponse(f"{method}: expected a list of objects")
        for r in rows:
            r["storage_id"] = self.storage_id
        try:
            return validate_rows(method, rows, coerce=coerce)
        except InvalidResults as exc:
            raise BadResponse(exc.msg) from exc

    @staticmethod
    def _capabilities(interval: int, retention: int) -> dict:
        return {"is_historic": True, "performance_metric_retention_window": int(retention),
                "collect_interval": int(interval), "failed_job_collect_interval": 900,
                "resource_metrics": resource_metrics_for(PERF_TYPES)}

    # the five inventory lists are the same on both protocols: one table, one fetch per driver
    def _fetch(self, what: str, method: str) -> list[dict]:
        raise NotImplementedError   # REST pages ``/api/v1/<what>``; SSH runs ``ls<what>``

    def list_storage_pools(self, context: Any) -> list[dict]:
        return self._fetch("pools", "list_storage_pools")

    def list_volumes(self, context: Any) -> list[dict]:
        return self._fetch("volumes", "list_volumes")

    def list_controllers(self, context: Any) -> list[dict]:
        return self._fetch("controllers", "list_controllers")

    def list_ports(self, context: Any) -> list[dict]:
        return self._fetch("ports", "list_ports")

    def list_disks(self, context: Any) -> list[dict]:
        return self._fetch("disks", "list_disks")
