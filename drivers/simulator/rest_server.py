"""The array's REST API (what the REST driver talks to).

    POST   /api/v1/sessions          {"username","password"} -> 201 {"token"} | 401 | 503
    DELETE /api/v1/sessions/current  (X-Auth-Token) -> 204
    GET    /api/v1/system | /api/v1/capabilities
    GET    /api/v1/{pools,volumes,disks,ports,controllers}?offset=&limit=  -> {"items","total"}
    GET    /api/v1/perf?start=&end=[&types=a,b][&metrics=x,y] -> columnar groups
Every call but login needs ``X-Auth-Token``; faults (latency, malformed, throttle) apply here.
"""
from __future__ import annotations

from typing import Any

from .array import SimArray
from .array_http import ArrayHandler
from .http_base import HttpError, int_param

LISTS = {"pools", "volumes", "disks", "ports", "controllers"}
MAX_PAGE = 2000


class ArrayRestHandler(ArrayHandler):
    SESSION_HEADER = "X-Auth-Token"

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise HttpError(404, "not found")
        return self._api(self.sim_array(), method, parts[2:])

    def _api(self, array: SimArray, method: str, rest: list[str]) -> tuple[int, Any]:
        if rest == ["sessions"] and method == "POST":
            body = self.body()
            user, password = body.get("username"), body.get("password")
            if not isinstance(user, str) or not isinstance(password, str):
                raise HttpError(400, "username and password are required")
            return 201, {"token": array.login(user, password)}
        token = self.session_key()
        if rest == ["sessions", "current"] and method == "DELETE":
            array.logout(token)
            return 204, None
        array.touch(token)
        array.count_request()
        if method != "GET" or len(rest) != 1:
            raise HttpError(404, "not found")
        what = rest[0]
        if what == "system":
            return 200, array.inv.storage
        if what == "capabilities":
            return 200, array.capabilities()
        if what in LISTS:
            rows = array.list_of(what)
            offset = int_param(self.query, "offset", 0)
            limit = int_param(self.query, "limit", MAX_PAGE, lambda v: 1 <= v <= MAX_PAGE)
            return 200, {"items": rows[offset:offset + limit], "total": len(rows)}
        if what == "perf":
            start = int_param(self.query, "start")
            end = int_param(self.query, "end")
            types = [t for t in self.query.get("types", "").split(",") if t] or None
            metrics = [m for m in self.query.get("metrics", "").split(",") if m] or None
            ts, groups = array.perf_groups(start, end, types, metrics)
            return 200, {"interval": array.cfg.perf_interval, "timestamps": ts.tolist(),
                         "groups": [{**g, "values": g["values"].tolist()} for g in groups]}
        raise HttpError(404, "not found")
