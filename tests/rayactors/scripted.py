"""A scripted array and driver for testing the session core without Ray or sockets.

The array counts what a real one would (logins, failed logins, logouts, active and peak
sessions, requests per session, calls in flight) and lets a test hold any call at a named
point (``hold("list_volumes")``) to force an interleaving, then ``release`` it.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Optional

from drivers.base import StorageDriver
from drivers.errors import InvalidIpOrPort, InvalidUsernameOrPassword, StorageBackendException


class ScriptedArray:
    def __init__(self, password: str = "pw-1", port: int = 8443, serial: str = "SN-1") -> None:
        self.password, self.port, self.serial = password, port, serial
        self.down = False
        self.failing = False                       # answers every request with an error (busy, 503)
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}          # token -> requests served on it
        self._seq = itertools.count(1)
        self.logins = self.failed_logins = self.logouts = self.peak_sessions = 0
        self.inflight = self.peak_inflight = 0
        self.after_logout: dict[str, int] = {}     # requests a token got after it was logged out
        self._holds: dict[str, tuple[threading.Event, Optional[str]]] = {}
        self.entered: dict[str, threading.Event] = {}

    # -- test controls ----------------------------------------------------------------------
    def hold(self, point: str, only: Optional[str] = None) -> threading.Event:
        """Calls reaching ``point`` (of drivers using password ``only``, if given) wait until
        ``release(point)``; returns the event set when one of them got there."""
        self._holds[point] = (threading.Event(), only)
        self.entered[point] = threading.Event()
        return self.entered[point]

    def release(self, point: str) -> None:
        self._holds.pop(point)[0].set()

    def expire(self) -> None:
        with self._lock:
            self._tokens.clear()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._tokens)

    # -- what the driver calls ------------------------------------------------------------------
    def _pause(self, point: str, who: Optional[str]) -> None:
        held = self._holds.get(point)
        if held is not None and held[1] in (None, who):
            self.entered[point].set()
            assert held[0].wait(30), f"{point} held for 30 s"

    def login(self, password: str, port: int) -> str:
        self._pause("login", password)
        if self.down or port != self.port:
            raise InvalidIpOrPort(f"127.0.0.1:{port}")
        with self._lock:
            if password != self.password:
                self.failed_logins += 1
                raise InvalidUsernameOrPassword()
            token = f"t{next(self._seq)}"
            self._tokens[token] = 0
            self.logins += 1
            self.peak_sessions = max(self.peak_sessions, len(self._tokens))
            return token

    def logout(self, token: Optional[str]) -> None:
        with self._lock:
            if token is not None and self._tokens.pop(token, None) is not None:
                self.logouts += 1
                self.after_logout[token] = 0

    def request(self, token: Optional[str], point: str, who: Optional[str] = None) -> bool:
        """False when the token is not (or no longer) valid: the driver logs in again."""
        with self._lock:
            self.inflight += 1
            self.peak_inflight = max(self.peak_inflight, self.inflight)
        try:
            self._pause(point, who)
            if self.down:
                raise InvalidIpOrPort("array down")
            if self.failing:
                raise StorageBackendException("503: try later")
            with self._lock:
                if token in self.after_logout:
                    self.after_logout[token] += 1
                if token not in self._tokens:
                    return False
                self._tokens[token] += 1
                return True
        finally:
            with self._lock:
                self.inflight -= 1


class ScriptedDriver(StorageDriver):
    """Logs in at construction; on an expired token logs in again, even after ``close`` (as
    Delfin's drivers do: keeping a closed driver idle is the core's job). Which array it talks
    to comes from ``extra_attributes['array']``."""

    vendor, model = "scripted", "driver"
    arrays: dict[str, ScriptedArray] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.array = self.arrays[self.access_info.extra_attributes["array"]]
        rest = self.access_info.rest
        self._password, self._port = rest.password.get_secret_value(), rest.port
        self.closed = False
        self.token: Optional[str] = self.array.login(self._password, self._port)

    def _call(self, point: str) -> None:
        for _ in range(2):
            if self.token is not None and self.array.request(self.token, point, self._password):
                return
            self.token = self.array.login(self._password, self._port)
        raise StorageBackendException(f"{point}: session rejected after re-login")

    def get_storage(self, context: Any) -> dict:
        self._call("get_storage")
        return {"name": "scripted", "vendor": "scripted", "model": "x", "status": "normal",
                "serial_number": self.array.serial, "total_capacity": 100, "used_capacity": 10,
                "free_capacity": 90}

    def list_volumes(self, context: Any) -> list[dict]:
        self._call("list_volumes")
        return []

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> dict:
        self._call("get_capabilities")
        return {"is_historic": False, "resource_metrics": {}}

    def close(self) -> None:
        self.closed = True
        token, self.token = self.token, None
        self.array.logout(token)

    def session_handle(self) -> Optional[str]:
        return self.token

    @classmethod
    def release_session(cls, access_info: Any, handle: str) -> None:
        array = cls.arrays[access_info.extra_attributes["array"]]
        array._pause("release", None)
        if array.down:
            raise InvalidIpOrPort("array down")
        array.logout(handle)


class ConcurrentScriptedDriver(ScriptedDriver):
    max_concurrent_calls = 4


def access(name: str, password: str = "pw-1", port: int = 8443) -> dict:
    return {"vendor": "scripted", "model": "driver",
            "rest": {"host": "127.0.0.1", "port": port, "username": "admin", "password": password},
            "extra_attributes": {"array": name}}
