"""A Pure Storage FlashArray REST API 1.17 over HTTPS: what Delfin's ``pure flasharray`` driver
talks to, shaped as that driver's code and Delfin's packaged tests expect.

    POST   /api/1.17/auth/apitoken   {"username","password"} -> {"api_token"} | 400 {"msg": "invalid credentials"}
    POST   /api/1.17/auth/session    {"api_token"} -> {"username"} + session cookie (the login)
    DELETE /api/1.17/auth/session    -> {"username"} (the logout)
    GET    /api/1.17/array[?space=true|?controllers=true], /volume?space=true&limit=&token=
           (pages: header x-next-token), /port, /network, /drive, /hardware,
           /message?flagged=true&open=true
Every GET needs the session cookie (401 without). Sessions, counters and faults are the
array's (``SimArray``): the same admin API as the other simulated arrays.
"""
from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from .array import SimArray, SimError
from .array_http import ArrayHandler
from .http_base import HttpError

PREFIX = ["api", "1.17"]
COOKIE = "session"


def _b64(n: int) -> str:
    return base64.b64encode(f"offset={n}".encode()).decode()


def _offset(token: str) -> int:
    try:
        text = base64.b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return 0
    return int(text[7:]) if text.startswith("offset=") and text[7:].isdigit() else 0


class PureRestHandler(ArrayHandler):
    GARBAGE = b"[{\"name\": <<garbage"
    SESSION_COOKIE = COOKIE

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != PREFIX or len(parts) < 3:
            raise HttpError(404, "not found")
        return self._api(self.sim_array(), method, parts[2:])

    def _api(self, array: SimArray, method: str, rest: list[str]) -> tuple[int, Any]:
        if rest == ["auth", "apitoken"] and method == "POST":
            body = self.body()
            try:
                user = array.check_password(str(body.get("username")), str(body.get("password")))
            except SimError:
                return 400, {"msg": "invalid credentials"}
            return 200, {"api_token": _api_token(array, user)}
        if rest == ["auth", "session"] and method == "POST":
            token = str(self.body().get("api_token", ""))
            user = next((u for u in array.cfg.users if _api_token(array, u) == token), None)
            if user is None:
                raise HttpError(401, "invalid api token")
            session = array.open_session(user)
            self.extra_headers["Set-Cookie"] = f"{COOKIE}={session}; Path=/; HttpOnly; Secure"
            return 200, {"username": user}
        if rest == ["auth", "session"] and method == "DELETE":
            user = self.session_user()
            if user is None:
                raise HttpError(401, "no session")
            array.logout(self.session_key())
            return 200, {"username": user}
        if self.session_user() is None:
            raise HttpError(401, "session expired or invalid")
        array.count_request()
        if method != "GET" or len(rest) != 1:
            raise HttpError(404, "not found")
        what = rest[0]
        if what == "array":
            return 200, self._array(array)
        if what == "volume":
            return 200, self._volumes(array)
        views = {"port": _ports, "network": _network, "drive": _drives, "hardware": _hardware,
                 "message": _messages}
        if what in views:
            return 200, views[what](array)
        raise HttpError(404, "not found")

    def _array(self, array: SimArray) -> Any:
        storage = array.inv.storage
        if self.query.get("space") == "true":
            return [{"hostname": storage["name"], "capacity": storage["total_capacity"],
                     "total": storage["used_capacity"], "volumes": storage["used_capacity"],
                     "system": 0, "snapshots": 0, "shared_space": 0, "data_reduction": 1.0,
                     "thin_provisioning": 0.9, "total_reduction": 1.0}]
        if self.query.get("controllers") == "true":
            return [{"name": f"CT{i}", "status": "ready" if c["status"] == "normal" else "not ready",
                     "version": c["soft_version"], "mode": "primary" if i == 0 else "secondary",
                     "model": "FA-x70r3", "type": "array_controller"}
                    for i, c in enumerate(array.inv.controllers)]
        return {"array_name": storage["name"], "id": storage["serial_number"],
                "version": storage["firmware_version"], "revision": "201706231549+4d7b1ce"}

    def _volumes(self, array: SimArray) -> list[dict]:
        limit = self.query.get("limit", "")
        limit_n = int(limit) if limit.isdigit() and int(limit) > 0 else 500
        start = _offset(self.query.get("token", ""))
        rows = array.inv.volumes[start:start + limit_n]
        if start + limit_n < len(array.inv.volumes):
            self.extra_headers["x-next-token"] = _b64(start + limit_n)
        return [{"name": v["native_volume_id"], "size": v["total_capacity"], "volumes": v["used_capacity"],
                 "total": v["used_capacity"], "snapshots": 0, "system": "", "shared_space": "",
                 "data_reduction": 1.0, "total_reduction": 1.0,
                 "thin_provisioning": 0.5 if v["type"] == "thin" else None} for v in rows]


def _api_token(array: SimArray, user: str) -> str:
    """A long-lived per-user token (as Pure's), derived from the array's seed."""
    return hashlib.sha256(f"{array.cfg.seed}/{user}".encode()).hexdigest()


def _port_name(i: int, port: dict) -> str:
    return f"CT{i % 2}.{'FC' if port['type'] == 'fc' else 'ETH'}{i}"


def _ports(array: SimArray) -> list[dict]:
    return [{"name": _port_name(i, p), "wwn": p["wwn"].replace(":", "").upper() if p["type"] == "fc" else None,
             "iqn": None if p["type"] == "fc" else f"iqn.2010-06.com.purestorage:flasharray.{i}",
             "portal": None, "failover": None, "nqn": None} for i, p in enumerate(array.inv.ports)]


def _network(array: SimArray) -> list[dict]:
    return [{"name": _port_name(i, p).lower(), "address": f"127.0.1.{i + 1}", "netmask": "255.255.255.0",
             "hwaddr": f"24:a9:37:00:00:{i:02x}", "speed": 10_000_000_000, "services": ["iscsi"]}
            for i, p in enumerate(array.inv.ports) if p["type"] != "fc"]


def _drives(array: SimArray) -> list[dict]:
    return [{"name": f"CH0.BAY{i}", "status": "healthy" if d["status"] == "normal" else "unhealthy",
             "capacity": d["capacity"], "type": "SSD", "protocol": "NVMe", "details": "",
             "last_evac_completed": "1970-01-01T00:00:00Z", "last_failure": "1970-01-01T00:00:00Z"}
            for i, d in enumerate(array.inv.disks)]


def _hardware(array: SimArray) -> list[dict]:
    rows = [{"name": f"CT{i}", "status": "ok" if c["status"] == "normal" else "critical", "speed": None,
             "serial": f"PCT{i:04d}", "model": "FA-x70r3", "index": i, "slot": None, "details": None,
             "identify": "off", "temperature": None} for i, c in enumerate(array.inv.controllers)]
    rows += [{"name": _port_name(i, p), "status": "ok", "speed": 16_000_000_000 if p["connection_status"] == "connected"
              else 0, "serial": None, "model": None, "index": i, "slot": i, "details": None, "identify": "off",
              "temperature": None} for i, p in enumerate(array.inv.ports)]
    rows += [{"name": f"CH0.BAY{i}", "status": "ok", "speed": None, "serial": d["serial_number"],
              "model": d["model"], "index": i, "slot": i, "details": None, "identify": "off", "temperature": None}
             for i, d in enumerate(array.inv.disks)]
    return rows


def _messages(array: SimArray) -> list[dict]:
    opened = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(array.alerts_opened))
    return [{"id": 1000 + i, "code": 42, "category": "array", "component_type": "hardware",
             "component_name": f"CT{i % 2}.ETH{i}", "event": "link down", "current_severity": "warning",
             "opened": opened, "actual": "", "expected": "", "details": ""}
            for i, p in enumerate(array.inv.ports) if p["connection_status"] != "connected"]
