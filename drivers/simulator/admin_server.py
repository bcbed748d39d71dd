"""The simulator's admin API (tests, benchmarks, operators).

    GET  /arrays                         every array, ports and counters
    POST /arrays                         add an array at run time (ArrayConfig fields)
    GET  /arrays/{name}/stats            logins, failed_logins, logouts, active_sessions, ...
    GET  /arrays/{name}/slow-requests    requests served 10+ ms over the injected latency
    POST /arrays/{name}/password         {"username","password"}: rotate
    POST /arrays/{name}/expire-sessions  invalidate every token now
    POST /arrays/{name}/faults           {"latency_ms","down","malformed","throttle","throttle_after","hold"}
    POST /arrays/{name}/reset-stats
"""
from __future__ import annotations

from typing import Any

from .array import SimError
from .http_base import HttpError, JsonHandler


class AdminHandler(JsonHandler):
    def route(self, method: str, parts: list[str]) -> tuple[int, Any]:
        sim = self.server.context  # type: ignore[attr-defined]  # the Simulator
        if parts == ["arrays"] and method == "GET":
            return 200, {"arrays": [dict(sim.describe(a), stats=a.stats()) for a in sim.arrays.values()]}
        if parts == ["arrays"] and method == "POST":
            try:
                array = sim.add_array(self.body())
            except (TypeError, ValueError) as exc:
                raise HttpError(400, str(exc)) from None
            return 201, sim.describe(array)
        if len(parts) < 3 or parts[0] != "arrays":
            raise HttpError(404, "not found")
        array = sim.arrays.get(parts[1])
        if array is None:
            raise HttpError(404, f"no array {parts[1]}")
        action = parts[2]
        try:
            if action == "stats" and method == "GET":
                return 200, array.stats()
            if action == "slow-requests" and method == "GET":
                return 200, {"slow_requests": array.slow_requests()}
            if method != "POST":
                raise HttpError(405, "method not allowed")
            if action == "password":
                body = self.body()
                user = body.get("username") or next(iter(array.cfg.users))
                if not isinstance(body.get("password"), str):
                    raise HttpError(400, "password is required")
                array.set_password(user, body["password"])
                return 200, {"username": user}
            if action == "expire-sessions":
                return 200, {"expired": array.expire_sessions()}
            if action == "faults":
                return 200, array.set_faults(self.body())
            if action == "reset-stats":
                array.reset_stats()
                return 200, array.stats()
        except SimError as exc:
            raise HttpError(exc.status, exc.message) from None
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from None
        raise HttpError(404, "not found")
