"""An IBM DS8000 REST API over HTTPS: what Delfin's ``ibm ds8k`` driver talks to, shaped as that
driver's code reads it (``{"data": {"<kind>": [...]}}``, numbers as strings).

    POST /api/v1/tokens   {"request": {"params": {"username", "password"}}} -> {"token": {"token"}}
                          (the login) | 401 "Authentication has failed"
    GET  /api/v1/systems, /pools, /pools/<id>/volumes, /ioports, /nodes,
         /events?severity=warning,error
Every request but the login needs ``X-Auth-Token``. Delfin's driver never deletes its token (its
``logout()`` closes its HTTP connections only), so a token ends at the array's idle timeout.
Sessions, counters and faults are the array's (``SimArray``).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .array import SimArray, SimError
from .array_http import ArrayHandler
from .http_base import HttpError

TOKEN = "X-Auth-Token"


class DS8kRestHandler(ArrayHandler):
    GARBAGE = b"{\"data\": {\"pools\": [<<garbage"
    SESSION_HEADER = TOKEN

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise HttpError(404, "not found")
        array, rest = self.sim_array(), parts[2:]
        if rest == ["tokens"] and method == "POST":
            params = (self.body().get("request") or {}).get("params") or {}
            try:
                user = array.check_password(str(params.get("username")), str(params.get("password")))
            except SimError:
                raise HttpError(401, "Authentication has failed") from None
            token = array.open_session(user)
            return 200, {"server": {"status": "ok", "code": "", "message": "Operation done successfully."},
                         "token": {"token": token, "expired_time": "", "max_idle_interval": "1800000"}}
        if self.session_user() is None:
            raise HttpError(401, "the token is expired or invalid")
        array.count_request()
        if method != "GET":
            raise HttpError(404, "not found")
        if len(rest) == 3 and rest[0] == "pools" and rest[2] == "volumes":
            return 200, _data("volumes", _volumes(array, rest[1]))
        view = VIEWS.get(rest[0]) if len(rest) == 1 else None
        if view is None:
            raise HttpError(404, "not found")
        return 200, _data(rest[0], view(array))


def _data(kind: str, rows: list[dict]) -> dict[str, Any]:
    return {"counts": {"data_counts": len(rows), "total_counts": len(rows)}, "data": {kind: rows}}


def _systems(array: SimArray) -> list[dict]:
    s = array.inv.storage
    return [{"id": s["serial_number"], "name": s["name"], "state": "online" if s["status"] == "normal" else "offline",
             "release": s["firmware_version"], "bundle": "88.0.0.0", "MTM": array.cfg.model, "sn": s["serial_number"],
             "cap": str(s["total_capacity"]), "capalloc": str(s["used_capacity"]),
             "capavail": str(s["free_capacity"]), "capraw": str(s["raw_capacity"])}]


def _pools(array: SimArray) -> list[dict]:
    return [{"id": p["native_storage_pool_id"], "name": p["name"], "node": str(i % 2), "stgtype": "fb",
             "cap": str(p["total_capacity"]), "capalloc": str(p["used_capacity"]),
             "capavail": str(p["free_capacity"]), "threshold": "95"} for i, p in enumerate(array.inv.pools)]


def _volumes(array: SimArray, pool_id: str) -> list[dict]:
    if pool_id not in {p["native_storage_pool_id"] for p in array.inv.pools}:
        raise HttpError(404, f"no pool {pool_id}")
    return [{"id": v["native_volume_id"], "name": v["name"], "state": "normal" if v["status"] == "available"
             else "degraded", "cap": str(v["total_capacity"]), "capalloc": str(v["used_capacity"]),
             "stgtype": "fb" if v["type"] == "thick" else "ese", "pool": {"id": pool_id}}
            for v in array.inv.volumes if v["native_storage_pool_id"] == pool_id]


def _ioports(array: SimArray) -> list[dict]:
    return [{"id": p["native_port_id"], "loc": p["name"], "protocol": "SCSI-FCP",
             "state": "online" if p["connection_status"] == "connected" else "offline", "speed": "16 Gb/s",
             "wwpn": p["wwn"].replace(":", "").upper()} for p in array.inv.ports]


def _nodes(array: SimArray) -> list[dict]:
    return [{"id": c["native_controller_id"], "state": "online" if c["status"] == "normal" else "offline"}
            for c in array.inv.controllers]


def _events(array: SimArray) -> list[dict]:
    """One warning per port whose link is down, as the other simulated arrays."""
    opened = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(array.alerts_opened))
    return [{"id": f"SE{i:04d}", "type": "HostPortStateChanged", "severity": "warning", "time": opened,
             "description": f"I/O port {p['name']} link is down"}
            for i, p in enumerate(array.inv.ports) if p["connection_status"] != "connected"]


VIEWS: dict[str, Callable[[SimArray], list[dict]]] = {
    "systems": _systems, "pools": _pools, "ioports": _ioports, "nodes": _nodes, "events": _events}
