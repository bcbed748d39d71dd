"""One simulated array: identity, users, sessions, faults, counters, inventory, perf history.

Pure state with a lock; the REST, SSH and admin servers call into it.
"""
from __future__ import annotations

import collections
import contextlib
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import numpy as np

from .. import inventory, perfgen
from ..perf_catalog import METRICS_BY_RESOURCE, normalise_request

PERF_TYPES = ["storage", "storagePool", "volume", "port", "disk", "controller"]
#: a request the array served this much slower than its injected latency is kept in
#: ``slow_requests`` (so a benchmark can tell a slow call's time at the array from ours)
SLOW_MARGIN_MS = 10.0
KINDS = {"sim", "pure", "storwize", "unity", "ds8k", "oceanstor", "3par", "vplex", "msa", "vmax", "netapp", "hnas", "vsp",
         "eternus", "vnx"}
#: the model an array of a kind reports unless given one (the FlashArray and Storwize APIs name theirs)
DEFAULT_MODELS = {"unity": "Unity 480", "ds8k": "2107-996", "oceanstor": "OceanStor 5500 V5", "3par": "HPE 3PAR 8440",
                  "msa": "MSA 2050 SAN", "vmax": "PowerMax_2000",
                  "netapp": "FAS8200", "hnas": "HNAS 4060", "vsp": "VSP G900",
                  "eternus": "ET103ACU", "vnx": "VNX5400"}


class SimError(Exception):
    """An answer the array gives instead of data: HTTP-ish status plus message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ArrayConfig:
    name: str
    seed: int
    users: dict[str, str]
    rest_port: int = 0
    ssh_port: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    max_sessions: int = 16
    idle_timeout: float = 300.0
    perf_interval: int = 60
    retention: int = 7200
    vendor: str = "simulator"
    model: str = "sim-9000"
    #: which array API it speaks: "sim" (our REST API and SSH CLI), "pure" (FlashArray REST 1.17
    #: over HTTPS), "storwize" (IBM Storwize/SVC CLI over SSH), "unity" (Dell EMC Unity REST over HTTPS),
    #: "ds8k" (IBM DS8000 REST over HTTPS), "oceanstor" (Huawei OceanStor DeviceManager REST over HTTPS),
    #: "3par" (HPE 3PAR WSAPI over HTTPS and CLI over SSH), "vplex" (Dell EMC VPLEX REST over HTTPS),
    #: "msa" (HPE MSA CLI over SSH, XML answers), "vmax" (Dell EMC Unisphere for PowerMax REST over HTTPS)
    #: "netapp" (NetApp ONTAP CLI over SSH and REST over HTTPS), "hnas" (Hitachi HNAS console,
    #: an interactive shell over SSH), "vsp" (Hitachi VSP REST over HTTPS), "eternus" (Fujitsu
    #: ETERNUS DX CLI, an interactive shell over SSH; its model code as Delfin's recorded reply shows it)
    #: or "vnx" (Dell EMC VNX block: its management server, reached by naviseccli over HTTPS)
    kind: str = "sim"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ArrayConfig":
        missing = [k for k in ("name", "seed", "users") if k not in data]
        if missing:
            raise ValueError(f"an array needs {', '.join(missing)} (e.g. {{\"name\": \"a1\", \"seed\": 1, "
                             f"\"users\": {{\"admin\": \"pw\"}}}})")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown array settings: {', '.join(unknown)}")
        kinds = {"name": str, "seed": int, "users": dict, "sizes": dict, "kind": str, "vendor": str, "model": str,
                 "rest_port": int, "ssh_port": int, "max_sessions": int, "perf_interval": int, "retention": int,
                 "idle_timeout": (int, float)}
        for key, kind in kinds.items():
            if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
                raise ValueError(f"{key} must be {getattr(kind, '__name__', 'a number')}")
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data["users"].items()):
            raise ValueError("users maps user names to non-empty passwords")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in data.get("sizes", {}).values()):
            raise ValueError("sizes maps pools/volumes/ports/disks/controllers to counts >= 0")
        cfg = cls(**{"model": DEFAULT_MODELS.get(str(data.get("kind")), "sim-9000"), **data})
        if not cfg.name or not isinstance(cfg.users, dict) or not cfg.users:
            raise ValueError("array needs a name and at least one user")
        if cfg.idle_timeout < 1 or cfg.max_sessions < 1 or cfg.perf_interval < 1:
            raise ValueError("idle_timeout, max_sessions and perf_interval must be >= 1")
        if cfg.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        return cfg


@dataclass
class Faults:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0   # each request waits latency_ms + U(0, jitter)
    down: bool = False
    malformed: bool = False
    throttle: int = 0          # 0 = off, else the HTTP status to answer (429 or 503)
    throttle_after: int = 0    # requests still served before the throttle applies (a list cut short)
    hold: bool = False         # requests wait, after their latency, until it is cleared


class SimArray:
    def __init__(self, cfg: ArrayConfig) -> None:
        self.cfg = cfg
        self.inv = inventory.generate(cfg.seed, cfg.sizes, name=cfg.name, vendor=cfg.vendor,
                                      model=cfg.model)
        self.perf_resources = self.inv.perf_resources()
        self.faults = Faults()
        self._faults_changed = threading.Condition()    # wakes requests ``hold`` keeps waiting
        self._lock = threading.Lock()
        self._passwords = dict(cfg.users)
        self._tokens: dict[str, tuple[str, float]] = {}   # token -> (user, last used)
        self._ssh: dict[int, str] = {}                     # connection id -> user
        self._ssh_seq = 0
        self.counters = {"logins": 0, "failed_logins": 0, "logouts": 0, "expired_sessions": 0, "requests": 0,
                         "rejected_session_limit": 0, "throttled": 0, "peak_sessions": 0, "peak_inflight": 0,
                         "peak_session_inflight": 0}
        self._inflight = 0
        self._inflight_by: dict[Any, int] = {}
        self._slow: collections.deque[dict[str, float]] = collections.deque(maxlen=1000)
        self.on_fault_change = lambda: None               # set by the servers (down/up)
        self.on_expire = lambda: None                     # set by the servers: drop SSH connections
        self.started_at = time.time()
        #: when the array's open alerts were raised (epoch seconds): an hour before it started,
        #: the same in every listing, as a real alert's time is
        self.alerts_opened = int(self.started_at) - 3600

    # -- sessions ---------------------------------------------------------------------------
    def _purge(self, now: float) -> None:
        idle = self.cfg.idle_timeout
        for tok in [t for t, (_, used) in self._tokens.items() if now - used > idle]:
            del self._tokens[tok]
            self.counters["expired_sessions"] += 1

    def _sessions_of(self, user: str) -> int:
        return sum(1 for u, _ in self._tokens.values() if u == user) + \
            sum(1 for u in self._ssh.values() if u == user)

    def _verify_password(self, user: str, password: str) -> None:
        """Call with the lock held."""
        if self._passwords.get(user) is None or not secrets.compare_digest(
                self._passwords[user].encode(), str(password).encode()):
            self.counters["failed_logins"] += 1
            raise SimError(401, "invalid username or password")

    def _check_capacity(self, user: str) -> None:
        """Call with the lock held: arrays cap sessions per user."""
        if self._sessions_of(user) >= self.cfg.max_sessions:
            self.counters["rejected_session_limit"] += 1
            raise SimError(503, f"session limit reached ({self.cfg.max_sessions} per user)")

    def _check_login(self, user: str, password: str) -> None:
        self._verify_password(user, password)
        self._check_capacity(user)

    def login(self, user: str, password: str) -> str:
        with self._lock:
            self._purge(time.time())
            self._check_login(user, password)
            return self._new_token(user)

    def check_password(self, user: str, password: str) -> str:
        """Only the credentials (a vendor's token step before its session step)."""
        with self._lock:
            self._verify_password(user, password)
            return user

    def open_session(self, user: str) -> str:
        """A session for an already authenticated user: the login counted at the array."""
        with self._lock:
            self._purge(time.time())
            self._check_capacity(user)
            return self._new_token(user)

    def _new_token(self, user: str) -> str:
        token = secrets.token_hex(16)
        self._tokens[token] = (user, time.time())
        self._logged_in()
        return token

    def _logged_in(self) -> None:
        """Call with the lock held, after adding a session."""
        self.counters["logins"] += 1
        self.counters["peak_sessions"] = max(self.counters["peak_sessions"], len(self._tokens) + len(self._ssh))

    def touch(self, token: Optional[str]) -> str:
        """Validate a token and refresh its idle timer; return its user."""
        with self._lock:
            now = time.time()
            self._purge(now)
            entry = self._tokens.get(token or "")
            if entry is None:
                raise SimError(401, "token expired or invalid")
            self._tokens[token] = (entry[0], now)
            return entry[0]

    def logout(self, token: Optional[str]) -> bool:
        with self._lock:
            if self._tokens.pop(token or "", None) is None:
                return False
            self.counters["logouts"] += 1
            return True

    def ssh_open(self, user: str, password: str) -> int:
        with self._lock:
            self._purge(time.time())
            self._check_login(user, password)
            self._ssh_seq += 1
            self._ssh[self._ssh_seq] = user
            self._logged_in()
            return self._ssh_seq

    def ssh_close(self, conn_id: int) -> None:
        with self._lock:
            if self._ssh.pop(conn_id, None) is not None:
                self.counters["logouts"] += 1

    def count_request(self) -> None:
        with self._lock:
            self.counters["requests"] += 1

    @contextlib.contextmanager
    def in_flight(self, session: Any = None) -> Iterator[None]:
        """Around every request the array serves (latency included): ``peak_inflight`` tells how
        many requests ran at once, ``peak_session_inflight`` how many on one session (token or
        SSH connection), counted here at the array."""
        with self._lock:
            self._inflight += 1
            self.counters["peak_inflight"] = max(self.counters["peak_inflight"], self._inflight)
            if session is not None:
                n = self._inflight_by[session] = self._inflight_by.get(session, 0) + 1
                self.counters["peak_session_inflight"] = max(self.counters["peak_session_inflight"], n)
        started, t0 = time.time(), time.perf_counter()
        try:
            yield
        finally:
            took_ms = (time.perf_counter() - t0) * 1000
            injected_ms = self.faults.latency_ms + self.faults.latency_jitter_ms
            with self._lock:
                if took_ms > injected_ms + SLOW_MARGIN_MS:
                    self._slow.append({"t": round(started, 3), "ms": round(took_ms, 1),
                                       "over_ms": round(took_ms - injected_ms, 1)})
                self._inflight -= 1
                if session is not None:
                    self._inflight_by[session] -= 1
                    if not self._inflight_by[session]:
                        del self._inflight_by[session]

    def slow_requests(self) -> list[dict[str, float]]:
        """The last 1000 requests served over ``SLOW_MARGIN_MS`` above the injected latency:
        start (wall time), duration and the excess, in ms."""
        with self._lock:
            return list(self._slow)

    def delay(self) -> None:
        """The injected latency of one request; then, while ``hold`` is set, the wait for its
        release (a test keeps a queue of calls waiting at the array for as long as it needs)."""
        f = self.faults
        if f.latency_ms or f.latency_jitter_ms:
            time.sleep((f.latency_ms + random.uniform(0.0, f.latency_jitter_ms)) / 1000.0)
        if f.hold:
            with self._faults_changed:
                while f.hold:
                    self._faults_changed.wait()

    def throttled(self) -> int:
        """The status a request is throttled with now (0: served): ``throttle``, once the
        ``throttle_after`` requests still to be served are spent."""
        with self._lock:
            if not self.faults.throttle:
                return 0
            if self.faults.throttle_after > 0:
                self.faults.throttle_after -= 1
                return 0
            self.counters["throttled"] += 1
            return self.faults.throttle

    # -- admin ------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        with self._lock:
            self._purge(time.time())
            return {"logins": self.counters["logins"], "failed_logins": self.counters["failed_logins"],
                    "logouts": self.counters["logouts"], "expired_sessions": self.counters["expired_sessions"],
                    "active_sessions": len(self._tokens) + len(self._ssh),
                    "max_sessions": self.cfg.max_sessions, "requests": self.counters["requests"],
                    "rejected_session_limit": self.counters["rejected_session_limit"],
                    "throttled": self.counters["throttled"],
                    "peak_sessions": self.counters["peak_sessions"],
                    "peak_inflight": self.counters["peak_inflight"], "inflight": self._inflight,
                    "peak_session_inflight": self.counters["peak_session_inflight"]}

    def reset_stats(self) -> None:
        with self._lock:
            for k in self.counters:
                self.counters[k] = 0
            self._slow.clear()

    def set_password(self, user: str, password: str) -> None:
        if not password:
            raise SimError(400, "password must not be empty")
        with self._lock:
            self._passwords[user] = password

    def expire_sessions(self) -> int:
        """Invalidate every token and drop every SSH connection (they log in again)."""
        with self._lock:
            n = len(self._tokens) + len(self._ssh)
            self._tokens.clear()
            self.counters["expired_sessions"] += n
        self.on_expire()
        return n

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        was_down = self.faults.down
        if "latency_ms" in body:
            self.faults.latency_ms = max(0.0, float(body["latency_ms"]))
        if "latency_jitter_ms" in body:
            self.faults.latency_jitter_ms = max(0.0, float(body["latency_jitter_ms"]))
        if "down" in body:
            self.faults.down = bool(body["down"])
        if "malformed" in body:
            self.faults.malformed = bool(body["malformed"])
        if "throttle" in body:
            t = body["throttle"]
            self.faults.throttle = 503 if t is True else (int(t) if t else 0)
            if self.faults.throttle not in (0, 429, 503):
                raise SimError(400, "throttle must be false, 429 or 503")
        if "hold" in body:
            self.faults.hold = bool(body["hold"])
        if "throttle_after" in body:
            n = body["throttle_after"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise SimError(400, "throttle_after must be an integer >= 0")
            self.faults.throttle_after = n
        if was_down != self.faults.down:
            self.on_fault_change()
        with self._faults_changed:
            self._faults_changed.notify_all()
        return self.faults.__dict__.copy()

    # -- data -------------------------------------------------------------------------------
    def list_of(self, kind: str) -> list[dict[str, Any]]:
        return {"pools": self.inv.pools, "volumes": self.inv.volumes, "disks": self.inv.disks,
                "ports": self.inv.ports, "controllers": self.inv.controllers}[kind]

    def capabilities(self) -> dict[str, Any]:
        return {"perf_interval": self.cfg.perf_interval, "retention": self.cfg.retention,
                "resource_types": PERF_TYPES}

    def perf_groups(self, start_ms: int, end_ms: int, types: Optional[list[str]] = None,
                    metrics: Optional[list[str]] = None) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Samples in [start, end) still inside retention: (timestamps, one group per type)."""
        now_ms = int(time.time() * 1000)
        start_ms = max(int(start_ms), now_ms - self.cfg.retention * 1000)
        end_ms = min(int(end_ms), now_ms + 1)
        wanted = {t: (metrics or METRICS_BY_RESOURCE[t]) for t in (types or PERF_TYPES)
                  if t in PERF_TYPES}
        ts = perfgen.sample_times(start_ms, end_ms, self.cfg.perf_interval)
        groups = []
        for rtype, names in normalise_request(wanted, PERF_TYPES).items():
            ids = self.perf_resources[rtype]
            if ids and names and len(ts):
                groups.append({"resource_type": rtype, "resource_ids": ids, "metrics": names,
                               "values": perfgen.series_values(self.cfg.seed, rtype, ids, names, ts)})
        return ts, groups
