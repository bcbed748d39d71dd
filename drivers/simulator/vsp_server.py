"""A Hitachi VSP REST API over HTTPS (the Configuration Manager REST API as a VSP G/F series
serves it): what Delfin's ``hitachi vsp`` driver talks to.

    GET    /ConfigurationManager/v1/objects/storages         the storage systems (no session needed)
    POST   .../storages/<id>/sessions                        Basic credentials -> {"token", "sessionId"}
           (the login; ``sessionId`` an integer, as Hitachi's reference shows it) | 401 "authentication
           failed" | 503 at the array's session cap
    DELETE .../storages/<id>/sessions/<sessionId>            the logout
    GET    .../storages/<id>, /total-capacities/instance, /pools, /ldevs?headLdevId=&count= (every
           LDEV id of the range, the ones past the last volume ``NOT DEFINED``), /components/instance,
           /drives, /ports, /ports/<portId>, /alerts?type=CTL1|CTL2|DKC&start=&count= (a JSON list)
Every request but the storage list and the login carries ``Authorization: Session <token>``:
Hitachi's REST reference authorizes session generation by user ID and password and every other
operation by the session, so Basic credentials there are 401. A session the array does not hold
(expired, ended) is 403, which Delfin's driver reads as "log in again" (it does so on 403 and 409).
Sessions, counters and faults are the array's (``SimArray``).
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Optional

from .array import SimArray, SimError
from .array_http import ModelHandler
from .http_base import HttpError, int_param

BASE = ["ConfigurationManager", "v1", "objects", "storages"]
GiB, MiB, KiB = 1024 ** 3, 1024 ** 2, 1024
BLOCK = 512


class VspArray:
    """What a VSP keeps besides the shared array state: its sessions' integer ids."""

    def __init__(self, array: SimArray) -> None:
        self.array = array
        self.device_id = f"8000{array.cfg.seed % 10 ** 8:08d}"
        self.tokens: dict[int, str] = {}          # session id -> token
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def open(self, user: str) -> dict[str, Any]:
        token = self.array.open_session(user)
        with self.lock:
            session_id = next(self.ids)
            self.tokens[session_id] = token
        return {"token": token, "sessionId": session_id}

    def close(self, session_id: str) -> bool:
        with self.lock:
            token = self.tokens.pop(int(session_id), None) if session_id.isdigit() else None
        return self.array.logout(token)


class VspRestHandler(ModelHandler):
    GARBAGE = b"{\"data\": [{\"poolId\": <<garbage"

    def session_key(self) -> Optional[str]:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return token if scheme == "Session" else None

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        vsp: VspArray = self.server.context  # type: ignore[attr-defined]
        array = vsp.array
        if parts[:4] != BASE:
            raise HttpError(404, "not found")
        rest = parts[4:]
        if not rest and method == "GET":
            array.count_request()
            return 200, {"data": [_system(vsp)]}
        if not rest or rest[0] != vsp.device_id:
            raise HttpError(404, "no such storage device")
        rest = rest[1:]
        if rest == ["sessions"] and method == "POST":
            user, password = self.basic_auth()
            try:
                array.check_password(user, password)
            except SimError:
                raise HttpError(401, "user authentication failed") from None
            return 200, vsp.open(user)
        if self.session_key() is None:              # none, or Basic credentials
            raise HttpError(401, "a session is required: specify Authorization: Session <token>")
        if self.session_user() is None:
            raise HttpError(403, "the session is not valid")
        array.count_request()
        if len(rest) == 2 and rest[0] == "sessions" and method == "DELETE":
            if not vsp.close(rest[1]):
                raise HttpError(404, "no such session")
            return 200, {"sessionId": int(rest[1])}
        if method != "GET":
            raise HttpError(404, "not found")
        if not rest:
            return 200, {**_system(vsp), "dkcMicroVersion": array.inv.storage["firmware_version"]}
        if len(rest) == 2 and rest[0] == "ports":
            port = next((p for p in _ports(array) if p["portId"] == rest[1]), None)
            if port is None:
                raise HttpError(404, "no such port")
            return 200, port
        if rest == ["ldevs"]:
            head = int_param(self.query, "headLdevId", 0)
            return 200, {"data": _ldevs(array, head, int_param(self.query, "count", 100, lambda v: 1 <= v <= 16384))}
        if rest == ["alerts"]:
            return 200, _alerts(array, self.query.get("type", ""))
        view = VIEWS.get("/".join(rest))
        if view is None:
            raise HttpError(404, "not found")
        return 200, view(array)


def _system(vsp: VspArray) -> dict[str, Any]:
    s = vsp.array.inv.storage
    return {"storageDeviceId": vsp.device_id, "model": vsp.array.cfg.model, "serialNumber": s["serial_number"],
            "svpIp": "127.0.0.1", "ctl1Ip": "127.0.0.1", "ctl2Ip": "127.0.0.2", "rmiPort": 1099}


def _capacity(array: SimArray) -> dict[str, Any]:
    s = array.inv.storage
    return {"internal": {"freeSpace": s["free_capacity"] // KiB, "totalCapacity": s["total_capacity"] // KiB},
            "total": {"freeSpace": s["free_capacity"] // KiB, "totalCapacity": s["total_capacity"] // KiB}}


def _pool_index(array: SimArray) -> dict[str, int]:
    return {p["native_storage_pool_id"]: i for i, p in enumerate(array.inv.pools)}


def _pools(array: SimArray) -> dict[str, Any]:
    return {"data": [{"poolId": i, "poolName": p["name"], "poolStatus": "POLN" if p["status"] == "normal" else "POLE",
                      "poolType": "HDP", "totalPoolCapacity": p["total_capacity"] // MiB,
                      "availableVolumeCapacity": p["free_capacity"] // MiB,
                      "usedCapacityRate": int(100 * p["used_capacity"] / max(1, p["total_capacity"]))}
                     for i, p in enumerate(array.inv.pools)]}


def _ldevs(array: SimArray, head: int, count: int) -> list[dict[str, Any]]:
    """Every LDEV id of the range: a volume's, then ``NOT DEFINED`` past the last one."""
    pools, volumes, out = _pool_index(array), array.inv.volumes, []
    for ldev in range(head, head + count):
        if ldev >= len(volumes):
            out.append({"ldevId": ldev, "emulationType": "NOT DEFINED"})
            continue
        v = volumes[ldev]
        reduction = ("compression_deduplication" if v["deduplicated"] else
                     "compression" if v["compressed"] else "disabled")
        out.append({"ldevId": ldev, "clprId": 0, "emulationType": "OPEN-V-CVS", "label": v["name"],
                    "blockCapacity": v["total_capacity"] // BLOCK, "numOfUsedBlock": v["used_capacity"] // BLOCK,
                    "attributes": ["CVS", "HDP"] if v["type"] == "thin" else ["CVS"],
                    "poolId": pools.get(v["native_storage_pool_id"], 0), "dataReductionMode": reduction,
                    "status": "NML" if v["status"] == "available" else "BLK"})
    return out


def _components(array: SimArray) -> dict[str, Any]:
    return {"system": {"powerConsumption": 283},
            "ctls": [{"location": f"CTL{i + 1}", "status": "Normal" if c["status"] == "normal" else "Blocked",
                      "type": "Controller Board"} for i, c in enumerate(array.inv.controllers)]}


def _drives(array: SimArray) -> dict[str, Any]:
    return {"data": [{"driveLocationId": f"0-{i}", "driveTypeName": "SSD" if d["physical_type"] == "ssd" else "SAS",
                      "driveSpeed": d["speed"], "totalCapacity": d["capacity"] // GiB, "usageType": "DATA",
                      "status": "NML" if d["status"] == "normal" else "BLK", "parityGroupId": "1-1",
                      "serialNumber": d["serial_number"]} for i, d in enumerate(array.inv.disks)]}


def _ports(array: SimArray) -> list[dict[str, Any]]:
    out = []
    for i, p in enumerate(array.inv.ports):
        port = {"portId": p["name"], "portType": "FIBRE" if p["type"] == "fc" else "ISCSI",
                "portSpeed": f"{p['speed'] // 10 ** 9}G" if i % 3 else "AUT"}
        if p["type"] == "fc":
            port["wwn"] = p["wwn"].replace(":", "")
        else:
            port.update(ipv4Address=f"192.0.2.{10 + i}", ipv4Subnetmask="255.255.255.0",
                        macAddress=f"40:a8:f0:00:00:{i:02x}",
                        ipv6LinkLocalAddress={"address": f"fe80::42a8:f0ff:fe00:{i:x}", "status": "VAL"})
        out.append(port)
    return out


def _alerts(array: SimArray, kind: str) -> list[dict[str, Any]]:
    """The storage system's (DKC) alerts: one per port whose link is down, as the other simulated
    arrays; none from the controllers."""
    if kind != "DKC":
        return []
    opened = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(array.alerts_opened))
    return [{"alertIndex": i + 1, "alertId": f"2{i:05d}", "occurenceTime": opened, "location": f"Port {p['name']}",
             "errorSection": "Port", "errorDetail": f"port {p['name']} link is down", "errorLevel": "Moderate"}
            for i, p in enumerate(q for q in array.inv.ports if q["connection_status"] != "connected")]


VIEWS: dict[str, Callable[[SimArray], Any]] = {
    "total-capacities/instance": _capacity, "pools": _pools, "components/instance": _components,
    "drives": _drives, "ports": lambda a: {"data": _ports(a)}}
