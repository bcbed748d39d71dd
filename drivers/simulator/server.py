"""The simulator process: N arrays (REST + SSH each) and one admin API."""
from __future__ import annotations

import threading
from typing import Any

import paramiko

from .admin_server import AdminHandler
from .array import ArrayConfig, SimArray
from .http_base import Server
from .rest_server import ArrayRestHandler
from .ssh_server import SSHServer


def default_array(i: int) -> dict[str, Any]:
    return {"name": f"sim-{i}", "seed": 1000 + i, "users": {"admin": f"sim-pass-{i}"}}


class Simulator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.host_key = paramiko.RSAKey.generate(2048)
        self.arrays: dict[str, SimArray] = {}
        self._servers: dict[str, tuple[Server, SSHServer]] = {}
        self._lock = threading.Lock()
        self.admin = Server(AdminHandler, int(config.get("admin_port", 0)), self)

    @property
    def host_key_line(self) -> str:
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"

    def start(self) -> None:
        for spec in self.config.get("arrays", []):
            self.add_array(spec)
        self.admin.start()

    def add_array(self, spec: dict[str, Any]) -> SimArray:
        cfg = ArrayConfig.from_dict(spec)
        with self._lock:
            if cfg.name in self.arrays:
                raise ValueError(f"array {cfg.name} exists")
            array = SimArray(cfg)
            rest = Server(ArrayRestHandler, cfg.rest_port, array)
            ssh = SSHServer(array, cfg.ssh_port, self.host_key)
            rest.start()
            ssh.start()
            cfg.rest_port, cfg.ssh_port = rest.port, ssh.port
            array.on_fault_change = lambda a=array, r=rest, s=ssh: self._apply_down(a, r, s)
            self.arrays[cfg.name] = array
            self._servers[cfg.name] = (rest, ssh)
            return array

    @staticmethod
    def _apply_down(array: SimArray, rest: Server, ssh: SSHServer) -> None:
        if array.faults.down:
            rest.stop()
            ssh.stop()
        else:
            if not rest.running:
                rest.start()
            if not ssh.running:
                ssh.start()

    def describe(self, array: SimArray) -> dict[str, Any]:
        c = array.cfg
        return {"name": c.name, "kind": "rest+ssh", "host": "127.0.0.1", "rest_port": c.rest_port,
                "ssh_port": c.ssh_port, "users": c.users, "serial_number": array.inv.storage["serial_number"],
                "host_key": self.host_key_line, "vendor": c.vendor, "model": c.model}

    def ready_info(self) -> dict[str, Any]:
        return {"admin_port": self.admin.port, "host_key": self.host_key_line,
                "arrays": [self.describe(a) for a in self.arrays.values()]}

    def stop(self) -> None:
        self.admin.stop()
        for rest, ssh in self._servers.values():
            rest.stop()
            ssh.stop()
