"""A Dell EMC Unisphere for PowerMax/VMAX REST API over HTTPS: what Delfin's ``dellemc vmax``
driver talks to, shaped as that driver's code reads it (Unisphere 9.2, one local array).

    GET    /univmax/restapi/version                                    {"version": "V9.2.1.2"}
    GET    /univmax/restapi/92/system/symmetrix[/<sid>]                the array ids, an array
    GET    /univmax/restapi/92/system/symmetrix/<sid>/director[/<id>[/port[/<port>]]]
    GET    /univmax/restapi/92/system/symmetrix/<sid>/disk[/<id>]
    GET    /univmax/restapi/92/system/symmetrix/<sid>/alert[/<id>]      DELETE .../alert/<id> (204)
    GET    /univmax/restapi/92/sloprovisioning/symmetrix/<sid>         capacities, default SRPs
    GET    /univmax/restapi/92/sloprovisioning/symmetrix/<sid>/srp[/<id>], /storagegroup/<id>,
           /volume (an iterator: the first 1000 ids), /volume/<id>
    GET    /univmax/restapi/common/Iterator/<id>/page?from=&to=        the next ids (1-based, inclusive)
    GET    /univmax/restapi/performance/Array/keys
    POST   /univmax/restapi/performance/<category>/keys | /metrics     {"symmetrixId", "startDate", ...}

Unisphere holds no session for this client: every request carries basic authentication and is
checked on its own (401 otherwise, counted as a failed login), so ``logins`` stays 0. Counters
and faults are the array's (``SimArray``); a storage group per pool, an SRP per pool, a director
per controller, each port under its controller's director, one alert per port whose link is down.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from .array import SimArray
from .array_http import ModelHandler
from .http_base import HttpError, int_param

VERSION = "V9.2.1.2"
API = "92"
PAGE = 1000            #: Unisphere's ``maxPageSize`` for an iterator
KEPT_ITERATORS = 64    #: iterators kept (oldest dropped: a page of a dropped one is 404, as an expired one)
TiB, GiB, MiB = 2 ** 40, 2 ** 30, 2 ** 20

#: performance categories: (our resource type or None: the array has none, the keys' list name,
#: the key naming an object, Unisphere's metric names -> ours)
_HOST = {"HostIOs": "iops", "HostReads": "readIops", "HostWrites": "writeIops", "HostMBs": "throughput",
         "HostMBReads": "readThroughput", "HostMBWritten": "writeThroughput"}
_IO = {"IOs": "iops", "MBs": "throughput", "MBRead": "readThroughput", "MBWritten": "writeThroughput"}
PERF: dict[str, tuple[str | None, str, str, dict[str, str]]] = {
    "Array": ("storage", "arrayInfo", "symmetrixId", _HOST),
    "SRP": ("storagePool", "srpInfo", "srpId", {**_HOST, "ResponseTime": "responseTime"}),
    "FEDirector": ("controller", "feDirectorInfo", "directorId", {"HostIOs": "iops", "HostMBs": "throughput"}),
    "BEDirector": (None, "beDirectorInfo", "directorId", {}),
    "RDFDirector": (None, "rdfDirectorInfo", "directorId", {}),
    "FEPort": ("port", "fePortInfo", "portId", {**_IO, "ResponseTime": "responseTime"}),
    "BEPort": (None, "bePortInfo", "portId", {}),
    "RDFPort": (None, "rdfPortInfo", "portId", {}),
    "Disk": ("disk", "diskInfo", "diskId", {"IOs": "iops", "MBs": "throughput", "MBReads": "readThroughput",
                                            "MBWritten": "writeThroughput", "AvgResponseTime": "responseTime"}),
}


class VmaxArray:
    """What a Unisphere keeps besides the shared array state: its list iterators and the alerts
    deleted."""

    def __init__(self, array: SimArray) -> None:
        self.array = array
        self.sid = array.inv.storage["serial_number"]
        self.iterators: OrderedDict[str, list[dict]] = OrderedDict()
        self.deleted: set[str] = set()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def iterator(self, rows: list[dict]) -> dict[str, Any]:
        """The first page of ``rows`` and the iterator that serves the rest."""
        with self.lock:
            it = f"{self.sid}_{next(self._ids)}"
            self.iterators[it] = rows
            while len(self.iterators) > KEPT_ITERATORS:
                self.iterators.popitem(last=False)
        return {"id": it, "count": len(rows), "expirationTime": int(time.time() * 1000) + 600_000,
                "maxPageSize": PAGE, "resultList": {"result": rows[:PAGE], "from": 1 if rows else 0,
                                                    "to": min(len(rows), PAGE)}}

    def page(self, it: str, first: int, last: int) -> dict[str, Any]:
        with self.lock:
            rows = self.iterators.get(it)
        if rows is None or not 1 <= first <= last <= len(rows):
            raise HttpError(404, f"iterator {it} has no page {first}-{last}")
        return {"result": rows[first - 1:last], "from": first, "to": last}


class VmaxRestHandler(ModelHandler):
    GARBAGE = b"{\"resultList\": {\"result\": [<<garbage"

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != ["univmax", "restapi"]:
            raise HttpError(404, "not found")
        vmax: VmaxArray = self.server.context  # type: ignore[attr-defined]
        self.authenticate(*self.basic_auth())
        rest = parts[2:]
        if rest == ["version"] and method == "GET":
            return 200, {"version": VERSION}
        if rest[:2] == ["common", "Iterator"] and len(rest) == 4 and method == "GET":
            return 200, vmax.page(rest[2], int_param(self.query, "from"), int_param(self.query, "to"))
        if rest[:1] == ["performance"] and len(rest) == 3:
            return 200, self._perf(vmax, method, rest[1], rest[2])
        if rest[:1] != [API] or len(rest) < 3 or rest[2] != "symmetrix":
            raise HttpError(404, "not found")
        if rest[1] == "system" and len(rest) == 3:
            return 200, {"symmetrixId": [vmax.sid]}
        if len(rest) < 4 or rest[3] != vmax.sid:
            raise HttpError(404, f"no array {'/'.join(rest[3:4])}")
        if method == "DELETE" and rest[1] == "system" and len(rest) == 6 and rest[4] == "alert":
            return self._delete_alert(vmax, rest[5])
        routes = SYSTEM if rest[1] == "system" else PROVISIONING if rest[1] == "sloprovisioning" else {}
        route = routes.get(rest[4] if len(rest) > 4 else "")
        if method != "GET" or route is None:
            raise HttpError(404, "not found")
        return 200, route(vmax, rest[5:])

    def _perf(self, vmax: VmaxArray, method: str, category: str, what: str) -> dict[str, Any]:
        if category not in PERF or what not in ("keys", "metrics") or (method, what) == ("GET", "metrics"):
            raise HttpError(404, "not found")
        rtype, info, key, names = PERF[category]
        body = {} if method == "GET" else self.body()
        if category != "Array" and str(body.get("symmetrixId")) != vmax.sid:
            raise HttpError(400, "symmetrixId is required")
        ids = vmax.array.perf_resources.get(rtype, []) if rtype else []
        if category == "FEPort":         # the ports of the director asked for
            ports = {p["native_port_id"]: p["native_parent_id"] for p in vmax.array.inv.ports}
            ids = [i for i in ids if ports[i] == body.get("directorId")]
        if what == "keys":
            return {info: [{key: i, "firstAvailableDate": 0, "lastAvailableDate": int(time.time() * 1000)}
                           for i in ids]}
        obj = vmax.sid if category == "Array" else body.get(key)
        if obj not in ids:
            raise HttpError(404, f"no {category} {obj}")
        try:
            start, end = int(body["startDate"]), int(body["endDate"])
        except (KeyError, TypeError, ValueError):
            raise HttpError(400, "startDate and endDate are required (ms)") from None
        asked = [m for m in body.get("metrics") or [] if m in names]
        ts, groups = vmax.array.perf_groups(start, end + 1, [rtype], [names[m] for m in asked])
        rows = [{"timestamp": int(t)} for t in ts]
        for group in groups:
            n, at = len(ts), group["resource_ids"].index(obj) * len(group["metrics"]) * len(ts)
            for j, metric in enumerate(group["metrics"]):
                vmax_name = next(m for m in asked if names[m] == metric)
                for k, row in enumerate(rows):
                    row[vmax_name] = float(group["values"][at + j * n + k])
        return vmax.iterator(rows)

    def _delete_alert(self, vmax: VmaxArray, alert_id: str) -> tuple[int, Any]:
        if alert_id not in {a["alertId"] for a in _alerts(vmax)}:
            raise HttpError(404, f"no alert {alert_id}")
        with vmax.lock:
            vmax.deleted.add(alert_id)
        return 204, None


def _one(rows: list[dict], key: str, rest: list[str], what: str) -> dict[str, Any]:
    for row in rows:
        if row[key] == rest[0]:
            return row
    raise HttpError(404, f"no {what} {rest[0]}")


def _directors(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    inv = vmax.array.inv
    if not rest:
        return {"directorId": [c["native_controller_id"] for c in inv.controllers]}
    directors = [{"directorId": c["native_controller_id"], "director_slot_number": i + 1, "num_of_cores": 8,
                  "availability": "Online" if c["status"] == "normal" else "Offline"}
                 for i, c in enumerate(inv.controllers)]
    director = _one(directors, "directorId", rest, "director")
    if len(rest) == 1:
        return director
    ports = [p for p in inv.ports if p["native_parent_id"] == director["directorId"]]
    if rest[1:] == ["port"]:
        return {"symmetrixPortKey": [{"directorId": director["directorId"], "portId": p["native_port_id"]}
                                     for p in ports]}
    if len(rest) == 3 and rest[1] == "port":
        p = _one(ports, "native_port_id", rest[2:], "port")
        return {"symmetrixPort": {
            "symmetrixPortKey": {"directorId": director["directorId"], "portId": p["native_port_id"]},
            "port_status": "ON" if p["connection_status"] == "connected" else "OFF",
            "type": "FibreChannel" if p["type"] == "fc" else "GigE", "identifier": p["wwn"],
            "negotiated_speed": str(p["speed"] // 10 ** 9), "max_speed": str(p["max_speed"] // 10 ** 9)}}
    raise HttpError(404, "not found")


def _disks(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    disks = vmax.array.inv.disks
    if not rest:
        return {"disk_ids": [d["native_disk_id"] for d in disks]}
    d = _one(disks, "native_disk_id", rest, "disk")
    return {"disk_id": d["native_disk_id"], "vendor": d["manufacturer"], "capacity": d["capacity"] // GiB,
            "type": d["physical_type"].upper()}


def _alerts(vmax: VmaxArray) -> list[dict[str, Any]]:
    """One alert per port whose link is down (as the other simulated arrays), gone once deleted."""
    opened = vmax.array.alerts_opened * 1000
    with vmax.lock:
        deleted = set(vmax.deleted)
    rows = [{"alertId": f"{1000 + i}", "severity": "WARNING", "type": "ARRAY", "state": "NEW",
             "created_date_milliseconds": opened, "description": f"Port {p['native_port_id']} link is down"}
            for i, p in enumerate(vmax.array.inv.ports) if p["connection_status"] != "connected"]
    return [r for r in rows if r["alertId"] not in deleted]


def _alert(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    alerts = _alerts(vmax)
    return _one(alerts, "alertId", rest, "alert") if rest else {"alertId": [a["alertId"] for a in alerts]}


def _tib(n: int) -> float:
    return n / TiB


def _capacity(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    s, pools = vmax.array.inv.storage, vmax.array.inv.pools
    return {"symmetrixId": vmax.sid, "default_fba_srp": pools[0]["native_storage_pool_id"] if pools else None,
            "default_ckd_srp": None,
            "system_capacity": {"usable_total_tb": _tib(s["total_capacity"]), "usable_used_tb": _tib(s["used_capacity"]),
                                "subscribed_total_tb": _tib(s["subscribed_capacity"])},
            "physicalCapacity": {"total_capacity_gb": s["raw_capacity"] / GiB}}


def _srps(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    pools = vmax.array.inv.pools
    if not rest:
        return {"srpId": [p["native_storage_pool_id"] for p in pools]}
    p = _one(pools, "native_storage_pool_id", rest, "SRP")
    return {"srpId": p["native_storage_pool_id"], "srp_capacity": {
        "usable_total_tb": _tib(p["total_capacity"]), "usable_used_tb": _tib(p["used_capacity"]),
        "subscribed_total_tb": _tib(p["subscribed_capacity"])}}


def _storage_group(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    groups = [{"storageGroupId": f"SG_{p['native_storage_pool_id']}", "srp": p["native_storage_pool_id"],
               "compression": True} for p in vmax.array.inv.pools]
    if not rest:
        return {"storageGroupId": [g["storageGroupId"] for g in groups]}
    return _one(groups, "storageGroupId", rest, "storage group")


def _volumes(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    volumes = vmax.array.inv.volumes
    if not rest:
        return vmax.iterator([{"volumeId": v["native_volume_id"]} for v in volumes])
    v = _one(volumes, "native_volume_id", rest, "volume")
    total = v["total_capacity"]
    return {"volumeId": v["native_volume_id"], "volume_identifier": v["name"], "type": "TDEV", "emulation": "FBA",
            "cap_mb": total / MiB, "allocated_percent": round(100.0 * v["used_capacity"] / total, 6) if total else 0,
            "status": "Ready" if v["status"] == "available" else "N/A", "wwn": v["wwn"],
            "num_of_storage_groups": 1, "storageGroupId": [f"SG_{v['native_storage_pool_id']}"]}


def _array(vmax: VmaxArray, rest: list[str]) -> dict[str, Any]:
    s = vmax.array.inv.storage
    return {"symmetrixId": vmax.sid, "model": s["model"], "ucode": "5978.669.669", "display_name": s["name"],
            "local": True}


Route = Callable[[VmaxArray, list[str]], dict[str, Any]]
#: by the segment after the array id ("" for the array itself)
SYSTEM: dict[str, Route] = {"": _array, "director": _directors, "disk": _disks, "alert": _alert}
PROVISIONING: dict[str, Route] = {"": _capacity, "srp": _srps, "storagegroup": _storage_group, "volume": _volumes}
