"""A Dell EMC VPLEX management REST API over HTTPS: what Delfin's ``dellemc vplex`` driver talks to,
shaped as that driver's code reads it (``{"response": {"context": [{"children": [...],
"attributes": [{"name", "value"}]}], "custom-data": "..."}}``).

    GET  /vplex/clusters[/<cluster>[/devices[/<device>] | /virtual-volumes[/<volume>]]]
    POST /vplex/health-check, /vplex/version, /vplex/storage-volume+summary,
         /vplex/local-device+summary, /vplex/virtual-volume+summary   (CLI text in custom-data)
    GET  /vplex/engines/*/directors/*, /vplex/engines/*/directors/*/hardware/ports/*,
         /vplex/clusters/*/exports/ports/*
A VPLEX holds no session: every request carries ``username`` and ``password`` headers and is
checked on its own (401 "User authentication failed" otherwise, counted as a failed login), so
``logins`` stays 0 and ``failed_logins`` counts the requests a rejected password made.
Counters and faults are the array's (``SimArray``); one cluster, a device per pool, a virtual
volume per volume, a director per controller, an export port per port.
"""
from __future__ import annotations

from typing import Any, Callable

from .array import SimArray
from .array_http import ArrayHandler
from .http_base import HttpError

CLUSTER = "cluster-1"
TiB = 2 ** 40


def _ctx(attributes: dict[str, Any] | None = None, children: list[str] | None = None,
         kind: str = "", parent: str = "") -> dict[str, Any]:
    return {"type": kind, "parent": parent,
            "attributes": [{"name": k, "value": v} for k, v in (attributes or {}).items()],
            "children": [{"name": c, "type": kind} for c in (children or [])]}


def _answer(*contexts: dict[str, Any], custom: str = "") -> dict[str, Any]:
    return {"response": {"context": list(contexts), "message": None, "exception": None, "custom-data": custom}}


class VplexRestHandler(ArrayHandler):
    GARBAGE = b"{\"response\": {\"context\": [<<garbage"

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:1] != ["vplex"]:
            raise HttpError(404, "not found")
        array = self.sim_array()
        self.authenticate(self.headers.get("username") or "", self.headers.get("password") or "",
                          refusal="User authentication failed")
        path = "/".join(parts[1:])
        route = (GETS if method == "GET" else POSTS if method == "POST" else {}).get(path)
        if route is not None:
            return 200, route(array)
        if method == "GET" and len(parts) >= 4 and parts[1:3] == ["clusters", CLUSTER]:
            return 200, _cluster_child(array, parts[3:])
        raise HttpError(404, "not found")


def _devices(array: SimArray) -> list[dict[str, Any]]:
    return [{"name": f"device_{p['name']}", "capacity": p["total_capacity"], "status": p["status"],
             "used": any(v["native_storage_pool_id"] == p["native_storage_pool_id"] for v in array.inv.volumes)}
            for p in array.inv.pools]


def _device_of(array: SimArray, pool_id: str) -> str:
    names = {p["native_storage_pool_id"]: p["name"] for p in array.inv.pools}
    return f"device_{names.get(pool_id, '')}"


def _health(status: str) -> str:
    return "ok" if status in ("normal", "available") else "degraded"


def _cluster_child(array: SimArray, rest: list[str]) -> dict[str, Any]:
    if rest == ["devices"]:
        return _answer(_ctx(children=[d["name"] for d in _devices(array)], kind="local-device"))
    if rest == ["virtual-volumes"]:
        return _answer(_ctx(children=[v["name"] for v in array.inv.volumes], kind="virtual-volume"))
    if len(rest) == 2 and rest[0] == "devices":
        for d in _devices(array):
            if d["name"] == rest[1]:
                return _answer(_ctx({"name": d["name"], "system-id": d["name"], "capacity": f"{d['capacity']}B",
                                     "virtual-volume": f"{d['name']}_vol" if d["used"] else None,
                                     "operational-status": "ok", "health-state": _health(d["status"])}))
        raise HttpError(404, f"no device {rest[1]}")
    if len(rest) == 2 and rest[0] == "virtual-volumes":
        for v in array.inv.volumes:
            if v["name"] == rest[1]:
                return _answer(_ctx({"name": v["name"], "capacity": f"{v['total_capacity']}B",
                                     "thin-enabled": "enabled" if v["type"] == "thin" else "disabled",
                                     "vpd-id": f"VPD83T3:{v['wwn']}", "supporting-device":
                                         _device_of(array, v["native_storage_pool_id"]),
                                     "operational-status": "ok", "health-state": _health(v["status"])}))
        raise HttpError(404, f"no virtual volume {rest[1]}")
    raise HttpError(404, "not found")


def _clusters(array: SimArray) -> dict[str, Any]:
    return _answer(_ctx(children=[CLUSTER], kind="cluster"))


def _cluster(array: SimArray) -> dict[str, Any]:
    s = array.inv.storage
    return _answer(_ctx({"name": CLUSTER, "top-level-assembly": s["serial_number"], "operational-status": "ok",
                         "health-state": _health(s["status"])}))


def _health_check(array: SimArray) -> dict[str, Any]:
    s = array.inv.storage
    return _answer(custom=f"Product Version: {s['firmware_version']}\nProduct Type: Local\n"
                          f"WAN Connectivity Type: None\nHardware Type: VS6\nCluster Size: 1 engine\n")


def _tib(n: int) -> str:
    return f"{n / TiB:.3f}"


def _storage_volume_summary(array: SimArray) -> dict[str, Any]:
    raw = array.inv.storage["raw_capacity"]
    return _answer(custom=f"Storage-Volume Summary (no tier)\n----------------------\nHealth  out-of-date  0\n"
                          f"Vendor  DGC  {len(array.inv.disks)}\nCapacity  total  {_tib(raw)}T\n")


def _device_summary(array: SimArray) -> dict[str, Any]:
    total = sum(d["capacity"] for d in _devices(array))
    return _answer(custom=f"device name  Operational Status  Health State  Block Count\n"
                          f"Total {len(array.inv.pools)} devices, 0 unhealthy, total {_tib(total)}T\n")


def _virtual_volume_summary(array: SimArray) -> dict[str, Any]:
    used = sum(v["total_capacity"] for v in array.inv.volumes)
    return _answer(custom=f"Total {len(array.inv.volumes)} virtual-volumes, 0 unhealthy, "
                          f"total capacity is {_tib(used)}T.\n")


def _directors(array: SimArray) -> list[tuple[str, dict]]:
    return [(f"director-1-1-{'AB'[i % 2]}{i // 2 or ''}", c) for i, c in enumerate(array.inv.controllers)]


def _version(array: SimArray) -> dict[str, Any]:
    firmware = array.inv.storage["firmware_version"]
    text = "".join(f"For director /engines/engine-1-1/directors/{name}:\n"
                   f"    What:    O/S\n    Version: D35.60.0.1.0\n"
                   f"    What:    Director Software\n    Version: {firmware}\n"
                   for name, _ in _directors(array))
    return _answer(custom=text)


def _engine_directors(array: SimArray) -> dict[str, Any]:
    return _answer(*[_ctx({"name": name, "director-id": c["native_controller_id"],
                           "communication-status": "ok" if c["status"] == "normal" else "lost communication"},
                          kind="director", parent="/engines/engine-1-1/directors")
                     for name, c in _directors(array)])


def _port_name(i: int) -> str:
    return f"P00000000{i:08X}-{'AB'[i % 2]}0-FC0{i // 2}"


def _export_ports(array: SimArray) -> dict[str, Any]:
    return _answer(*[_ctx({"name": _port_name(i), "director-id": p["native_parent_id"],
                           "export-status": "ok" if p["connection_status"] == "connected" else "suspended",
                           "port-wwn": f"0x{(p['wwn'] or '').replace(':', '')}"},
                          kind="fc-target-port", parent=f"/clusters/{CLUSTER}/exports/ports")
                     for i, p in enumerate(array.inv.ports)])


def _hardware_ports(array: SimArray) -> dict[str, Any]:
    return _answer(*[_ctx({"target-port": _port_name(i), "current-speed": "8Gbits/s", "max-speed": "16Gbits/s",
                           "protocols": ["fc"] if p["type"] == "fc" else ["iscsi"], "role": "front-end",
                           "port-status": "up" if p["connection_status"] == "connected" else "down",
                           "operational-status": "ok"}, kind="fc-port")
                     for i, p in enumerate(array.inv.ports)])


GETS: dict[str, Callable[[SimArray], dict[str, Any]]] = {
    "clusters": _clusters, f"clusters/{CLUSTER}": _cluster, "engines/*/directors/*": _engine_directors,
    "engines/*/directors/*/hardware/ports/*": _hardware_ports, "clusters/*/exports/ports/*": _export_ports}
POSTS: dict[str, Callable[[SimArray], dict[str, Any]]] = {
    "health-check": _health_check, "version": _version, "storage-volume+summary": _storage_volume_summary,
    "local-device+summary": _device_summary, "virtual-volume+summary": _virtual_volume_summary}
