"""The simulator process: N arrays (REST + SSH each) and one admin API."""
from __future__ import annotations

import shutil
import tempfile
import threading
from typing import Any, Callable, Optional

import paramiko

from .admin_server import AdminHandler
from .array import ArrayConfig, SimArray
from .ds8k_server import DS8kRestHandler
from .eternus_cli import EternusCli
from .hpe3par_server import Hpe3parCli, Hpe3parRestHandler
from .hnas_server import HnasCli
from .http_base import Server
from .msa_cli import MsaCli
from .netapp_server import NetAppCli, NetAppModel, NetAppRestHandler
from .oceanstor_server import OceanStorArray, OceanStorRestHandler
from .pure_server import PureRestHandler
from .rest_server import ArrayRestHandler
from .ssh_server import SSHServer
from .storwize_cli import StorwizeCli
from .tls import self_signed
from .unity_server import UnityArray, UnityRestHandler
from .vmax_server import VmaxArray, VmaxRestHandler
from .vnx_server import VnxAgentHandler, VnxModel
from .vplex_server import VplexRestHandler
from .vsp_server import VspArray, VspRestHandler


#: an HTTPS API: its handler class, and the context it serves (built from the array)
RestApi = tuple[type, Callable[[SimArray], Any]]
#: each vendor API's servers: its HTTPS API or None, its CLI over SSH (built from the array) or None
VENDOR_APIS: dict[str, tuple[Optional[RestApi], Optional[Callable[[SimArray], Any]]]] = {
    "pure": ((PureRestHandler, lambda a: a), None),
    "unity": ((UnityRestHandler, UnityArray), None),
    "ds8k": ((DS8kRestHandler, lambda a: a), None),
    "oceanstor": ((OceanStorRestHandler, OceanStorArray), None),
    "vplex": ((VplexRestHandler, lambda a: a), None),
    "vmax": ((VmaxRestHandler, VmaxArray), None),
    "netapp": ((NetAppRestHandler, NetAppModel), NetAppCli),
    "3par": ((Hpe3parRestHandler, lambda a: a), Hpe3parCli),
    "msa": (None, MsaCli),
    "storwize": (None, StorwizeCli),
    "hnas": (None, HnasCli),
    "vsp": ((VspRestHandler, VspArray), None),
    "eternus": (None, EternusCli),
    # its management server, which the stand-in naviseccli (drivers/simulator/bin) reaches
    "vnx": ((VnxAgentHandler, VnxModel), None),
}
#: the kinds whose REST API is served over HTTPS with the simulator's self-signed certificate
HTTPS_KINDS = {kind for kind, (rest, _) in VENDOR_APIS.items() if rest is not None}


def default_array(i: int) -> dict[str, Any]:
    return {"name": f"sim-{i}", "seed": 1000 + i, "users": {"admin": f"sim-pass-{i}"}}


class Simulator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.host_key = paramiko.RSAKey.generate(2048)
        self.arrays: dict[str, SimArray] = {}
        self._servers: dict[str, tuple[Optional[Server], Optional[SSHServer]]] = {}
        self._tls_dir = tempfile.mkdtemp(prefix="delfin-sim-tls-")
        self.tls, self.tls_cert = self_signed(self._tls_dir)
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
            rest, ssh = self._servers_for(array)
            for server in (rest, ssh):
                if server is not None:
                    server.start()
            cfg.rest_port = rest.port if rest else 0
            cfg.ssh_port = ssh.port if ssh else 0
            array.on_fault_change = lambda a=array, r=rest, s=ssh: self._apply_down(a, r, s)
            if ssh is not None:
                array.on_expire = ssh.drop_connections
            self.arrays[cfg.name] = array
            self._servers[cfg.name] = (rest, ssh)
            return array

    def _servers_for(self, array: SimArray) -> tuple[Optional[Server], Optional[SSHServer]]:
        """The protocols an array of this kind speaks (``VENDOR_APIS``): its vendor's HTTPS API,
        its CLI over SSH, or both; ours (kind ``sim``) our REST API and SSH CLI."""
        cfg = array.cfg
        if cfg.kind not in VENDOR_APIS:
            return Server(ArrayRestHandler, cfg.rest_port, array), SSHServer(array, cfg.ssh_port, self.host_key)
        rest, cli = VENDOR_APIS[cfg.kind]
        https = Server(rest[0], cfg.rest_port, rest[1](array), tls=self.tls) if rest else None
        ssh = None
        if cli is not None:
            commands = cli(array)
            ssh = SSHServer(array, cfg.ssh_port, self.host_key, cli=commands.run,
                            files=getattr(commands, "read_file", None), shell=getattr(commands, "open_shell", None),
                            busy=getattr(commands, "busy", None))
        return https, ssh

    @staticmethod
    def _apply_down(array: SimArray, rest: Optional[Server], ssh: Optional[SSHServer]) -> None:
        for server in (rest, ssh):
            if server is None:
                continue
            if array.faults.down:
                server.stop()
            elif not server.running:
                server.start()

    def describe(self, array: SimArray) -> dict[str, Any]:
        c = array.cfg
        return {"name": c.name, "kind": c.kind, "host": "127.0.0.1", "rest_port": c.rest_port or None,
                "ssh_port": c.ssh_port or None, "users": c.users, "serial_number": array.inv.storage["serial_number"],
                "host_key": self.host_key_line, "tls_cert": self.tls_cert if c.kind in HTTPS_KINDS else None,
                "vendor": c.vendor, "model": c.model}

    def ready_info(self) -> dict[str, Any]:
        return {"admin_port": self.admin.port, "host_key": self.host_key_line,
                "arrays": [self.describe(a) for a in self.arrays.values()]}

    def stop(self) -> None:
        self.admin.stop()
        for servers in self._servers.values():
            for server in servers:
                if server is not None:
                    server.stop()
        shutil.rmtree(self._tls_dir, ignore_errors=True)
