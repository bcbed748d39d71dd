"""A Dell EMC Unity REST API over HTTPS: what Delfin's ``dellemc unity`` driver talks to, shaped as
that driver's code and Delfin's packaged tests expect (``{"entries": [{"content": {...}}]}``).

    GET  /api/types/loginSessionInfo/instances   basic auth -> EMC-CSRF-TOKEN header + session
         cookie (the login) | 401 "Unauthorized"
    POST /api/types/loginSessionInfo/action/logout                       (the logout)
    GET  /api/types/<type>/instances[?page=&per_page=]   system, systemCapacity,
         installedSoftwareVersion, pool, lun (paged), storageProcessor, disk, fcPort, ethernetPort,
         ipInterface, alert (paged), filesystem, treeQuota, userQuota, nfsShare, cifsShare
    POST /api/instances/alert/<id>/action/modify  {"state": 2} marks an alert solved (204)
Every request needs ``X-EMC-REST-CLIENT: true``; every request but the login needs the session
cookie, and a POST also the session's CSRF token (401 otherwise, as a Unity answers). Sessions,
counters and faults are the array's (``SimArray``); the file resources (one file system per
pool, with a tree quota, a user quota, an NFS and an SMB share) are derived from its seed.
"""
from __future__ import annotations

import random
import secrets
import threading
import time
from typing import Any, Callable

from .array import SimArray, SimError
from .array_http import ModelHandler
from .http_base import HttpError

COOKIE = "mod_sec_emc"
CSRF = "EMC-CSRF-TOKEN"
PER_PAGE = 2000
OK, DEGRADED, CRITICAL = 5, 10, 25
SOLVED = 2


class UnityArray:
    """What a Unity keeps besides the shared array state: each session's CSRF token and the
    alerts marked solved."""

    def __init__(self, array: SimArray) -> None:
        self.array = array
        self.csrf: dict[str, str] = {}          # session cookie -> its CSRF token
        self.solved: set[str] = set()
        self.lock = threading.Lock()
        self.files = _file_resources(array)


def _health(status: str) -> dict[str, Any]:
    value = OK if status in ("normal", "available") else DEGRADED if status == "degraded" else CRITICAL
    return {"value": value, "descriptionIds": ["ALRT_COMPONENT_OK" if value == OK else "ALRT_COMPONENT_FAULT"]}


def _entries(rows: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {"@base": f"https://127.0.0.1/api/types/{base}/instances", "updated": _stamp(time.time()),
            "entryCount": len(rows), "entries": [{"content": r} for r in rows]}


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class UnityRestHandler(ModelHandler):
    GARBAGE = b"{\"entries\": [{\"content\": <<garbage"
    SESSION_COOKIE = COOKIE

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if self.headers.get("X-EMC-REST-CLIENT") != "true":
            raise HttpError(400, "the X-EMC-REST-CLIENT header is required")
        if parts[:1] != ["api"]:
            raise HttpError(404, "not found")
        return self._api(self.server.context, method, parts[1:])  # type: ignore[attr-defined]

    def _api(self, unity: UnityArray, method: str, rest: list[str]) -> tuple[int, Any]:
        array = unity.array
        if rest == ["types", "loginSessionInfo", "instances"] and method == "GET":
            user, password = self.basic_auth()
            try:
                array.check_password(user, password)
            except SimError:
                raise HttpError(401, "Unauthorized") from None
            session, token = array.open_session(user), secrets.token_urlsafe(24)
            with unity.lock:
                unity.csrf[session] = token
            self.extra_headers[CSRF] = token
            self.extra_headers["Set-Cookie"] = f"{COOKIE}={session}; Path=/; HttpOnly; Secure"
            return 200, _entries([{"id": user, "user": {"id": f"user_{user}"}, "roles": [{"id": "administrator"}]}],
                                 "loginSessionInfo")
        cookie = self.session_key()
        if self.session_user() is None:
            raise HttpError(401, "Unauthorized: session expired or invalid")
        if method == "POST":
            with unity.lock:
                expected = unity.csrf.get(cookie or "")
            if expected is None or not secrets.compare_digest(expected, self.headers.get(CSRF) or ""):
                raise HttpError(401, "Unauthorized: CSRF token missing or wrong")
        if rest == ["types", "loginSessionInfo", "action", "logout"] and method == "POST":
            array.logout(cookie)
            with unity.lock:
                unity.csrf.pop(cookie or "", None)
            return 200, {"logoutStatus": "success"}
        array.count_request()
        if method == "POST" and len(rest) == 5 and rest[:2] == ["instances", "alert"] and rest[3:] == ["action", "modify"]:
            if self.body().get("state") == SOLVED:
                with unity.lock:
                    unity.solved.add(rest[2])
            return 204, None
        if method != "GET" or len(rest) != 3 or rest[0] != "types" or rest[2] != "instances":
            raise HttpError(404, "not found")
        view = VIEWS.get(rest[1])
        if view is None:
            raise HttpError(404, f"no such type {rest[1]}")
        rows = view(unity)
        if rest[1] in PAGED:
            page, per_page = self._int("page", 1), self._int("per_page", PER_PAGE)
            rows = rows[(page - 1) * per_page:page * per_page]
        return 200, _entries(rows, rest[1])

    def _int(self, name: str, default: int) -> int:
        raw = self.query.get(name, "")
        return int(raw) if raw.isdigit() and int(raw) > 0 else default


def _system(unity: UnityArray) -> list[dict]:
    s = unity.array.inv.storage
    return [{"id": "0", "name": s["name"], "model": unity.array.cfg.model, "serialNumber": s["serial_number"],
             "health": _health(s["status"])}]


def _capacity(unity: UnityArray) -> list[dict]:
    s = unity.array.inv.storage
    return [{"id": "0", "sizeFree": s["free_capacity"], "sizeTotal": s["total_capacity"], "sizeUsed": s["used_capacity"],
             "sizeSubscribed": s["subscribed_capacity"], "totalLogicalSize": s["used_capacity"]}]


def _pools(unity: UnityArray) -> list[dict]:
    return [{"id": p["native_storage_pool_id"], "name": p["name"], "description": p["description"],
             "health": _health(p["status"]), "type": 2, "sizeFree": p["free_capacity"], "sizeTotal": p["total_capacity"],
             "sizeUsed": p["used_capacity"], "sizeSubscribed": p["subscribed_capacity"]} for p in unity.array.inv.pools]


def _luns(unity: UnityArray) -> list[dict]:
    return [{"id": v["native_volume_id"], "name": v["name"], "health": _health(v["status"]), "type": 2,
             "sizeAllocated": v["used_capacity"], "sizeTotal": v["total_capacity"], "sizeUsed": v["used_capacity"],
             "pool": {"id": v["native_storage_pool_id"]}, "wwn": v["wwn"], "isThinEnabled": v["type"] == "thin"}
            for v in unity.array.inv.volumes]


def _processors(unity: UnityArray) -> list[dict]:
    return [{"id": c["native_controller_id"], "name": c["name"], "health": _health(c["status"]), "model": "SP 500",
             "slotNumber": i, "manufacturer": "DELL EMC", "memorySize": c["memory_size"] // 2**20}
            for i, c in enumerate(unity.array.inv.controllers)]


def _disks(unity: UnityArray) -> list[dict]:
    return [{"id": d["native_disk_id"], "name": d["name"], "health": _health(d["status"]), "model": d["model"],
             "slotNumber": i, "manufacturer": d["manufacturer"], "version": d["firmware"],
             "emcSerialNumber": d["serial_number"], "wwn": f"06:00:00:00:05:00:00:{i:02x}", "rpm": d["speed"],
             "size": d["capacity"], "diskGroup": {"id": "dg_1"}, "diskTechnology": 6 if d["physical_type"] == "ssd" else 1}
            for i, d in enumerate(unity.array.inv.disks)]


def _link(p: dict) -> str:
    return "ALRT_PORT_LINK_UP" if p["connection_status"] == "connected" else "ALRT_PORT_LINK_DOWN_NOT_IN_USE"


def _fc_ports(unity: UnityArray) -> list[dict]:
    return [{"id": p["native_port_id"], "name": p["name"], "health": {"value": OK, "descriptionIds": [_link(p)]},
             "slotNumber": i, "storageProcessor": {"id": p["native_parent_id"]}, "currentSpeed": 16, "wwn": p["wwn"]}
            for i, p in enumerate(unity.array.inv.ports) if p["type"] == "fc"]


def _eth_ports(unity: UnityArray) -> list[dict]:
    return [{"id": p["native_port_id"], "name": p["name"], "health": {"value": OK, "descriptionIds": [_link(p)]},
             "portNumber": i, "storageProcessor": {"id": p["native_parent_id"]}, "speed": 10000,
             "isLinkUp": p["connection_status"] == "connected", "macAddress": f"00:60:16:00:00:{i:02x}"}
            for i, p in enumerate(unity.array.inv.ports) if p["type"] != "fc"]


def _ip_interfaces(unity: UnityArray) -> list[dict]:
    return [{"id": f"if_{i}", "ipPort": {"id": p["native_port_id"]}, "ipProtocolVersion": 4,
             "ipAddress": f"127.0.2.{i + 1}", "netmask": "255.255.255.0"}
            for i, p in enumerate(unity.array.inv.ports) if p["type"] != "fc"]


def _alerts(unity: UnityArray) -> list[dict]:
    """One alert per port whose link is down (as the other simulated arrays), solved once cleared."""
    opened = _stamp(unity.array.alerts_opened)
    with unity.lock:
        solved = set(unity.solved)
    return [{"id": f"alert_{i + 1}", "timestamp": opened, "severity": 4, "component": {"id": p["native_port_id"]},
             "messageId": "14:60a58", "message": f"Port {p['name']} link is down", "description": "link down",
             "descriptionId": "ALRT_PORT_LINK_DOWN", "state": SOLVED if f"alert_{i + 1}" in solved else 0}
            for i, p in enumerate(unity.array.inv.ports) if p["connection_status"] != "connected"]


def _file_resources(array: SimArray) -> dict[str, list[dict]]:
    """Per pool: a file system with a tree quota (its qtree), a user quota, an NFS share of its
    root and an SMB share of the qtree; sizes from the array's seed."""
    rnd, out = random.Random(array.cfg.seed), {k: [] for k in ("filesystem", "treeQuota", "userQuota",
                                                               "nfsShare", "cifsShare")}
    for i, pool in enumerate(array.inv.pools, start=1):
        fs, qt = f"fs_{i}", f"treequota_{i}"
        total = rnd.randint(1, 64) * 2**40
        used = int(total * rnd.uniform(0.05, 0.9))
        out["filesystem"].append({"id": fs, "name": f"{array.cfg.name}-fs-{i}", "health": _health("normal"),
                                  "sizeAllocated": used, "accessPolicy": i % 3, "sizeTotal": total, "sizeUsed": used,
                                  "isThinEnabled": bool(i % 2), "pool": {"id": pool["native_storage_pool_id"]},
                                  "flrVersion": 0})
        out["treeQuota"].append({"id": qt, "filesystem": {"id": fs}, "description": "", "path": f"/qtree{i}",
                                 "hardLimit": 2**40, "softLimit": 2**39, "sizeUsed": min(used // 4, 2**39),
                                 "quotaConfig": {"id": f"quotaconfig_{i}"}})
        out["userQuota"].append({"id": f"userquota_{i}", "filesystem": {"id": fs}, "hardLimit": 2**34,
                                 "softLimit": 2**33, "sizeUsed": min(used // 64, 2**33), "treeQuota": {"id": qt}, "uid": 1000 + i})
        out["nfsShare"].append({"id": f"NFSShare_{i}", "filesystem": {"id": fs}, "name": f"nfs{i}", "path": "/"})
        out["cifsShare"].append({"id": f"SMBShare_{i}", "filesystem": {"id": fs}, "name": f"smb{i}",
                                 "path": f"/qtree{i}"})
    return out


def _files(kind: str) -> Callable[[UnityArray], list[dict]]:
    return lambda unity: unity.files[kind]


def _version(unity: UnityArray) -> list[dict]:
    return [{"id": unity.array.inv.storage["firmware_version"], "version": unity.array.inv.storage["firmware_version"]}]


VIEWS: dict[str, Callable[[UnityArray], list[dict]]] = {
    "system": _system, "systemCapacity": _capacity, "installedSoftwareVersion": _version, "pool": _pools,
    "lun": _luns, "storageProcessor": _processors, "disk": _disks, "fcPort": _fc_ports, "ethernetPort": _eth_ports,
    "ipInterface": _ip_interfaces, "alert": _alerts,
    **{kind: _files(kind) for kind in ("filesystem", "treeQuota", "userQuota", "nfsShare", "cifsShare")}}
#: types a Unity answers a page at a time (``page`` from 1, ``per_page`` rows)
PAGED = {"lun", "alert"}
