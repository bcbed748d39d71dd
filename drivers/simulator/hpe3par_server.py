"""An HPE 3PAR: its Web Services API over HTTPS and its CLI over SSH, what Delfin's ``hpe 3par``
driver uses side by side (a REST session key and an SSH connection per driver).

REST (WSAPI)::

    POST   /api/v1/credentials  {"user", "password"} -> 201 {"key"} (the login)
           | 400 {"code": 5, "desc": "invalid username or password"}
    DELETE /api/v1/credentials/<key>                                  (the logout)
    GET    /api/v1/system, /api/v1/capacity, /api/v1/cpgs, /api/v1/volumes
Every request but the login needs ``X-HP3PAR-WSAPI-SessionKey``: 403 for a key the array does
not know (the driver then logs in again).

CLI (tables with a title line, as the 3PAR CLI prints them)::

    showwsapi | checkhealth ... | showalert -d | removealert -f <id> | shownode [-cpu] | showeeprom
    showpd [-i] | showport [-i | -par | -c | -iscsi | -rcip | -fcoe | -fs]
Sessions, counters and faults are the array's (``SimArray``): the REST key and the SSH
connection are two sessions at the array.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from .array import SimArray, SimError
from .array_http import ArrayHandler
from .http_base import HttpError
from .ssh_server import command_words

KEY = "X-HP3PAR-WSAPI-SessionKey"
MiB = 2 ** 20
EXIT_OK = 0
NORMAL, DEGRADED = 1, 2


class Hpe3parRestHandler(ArrayHandler):
    GARBAGE = b"{\"total\": 3, \"members\": [<<garbage"
    SESSION_HEADER = KEY

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise HttpError(404, "not found")
        array, rest = self.sim_array(), parts[2:]
        if rest == ["credentials"] and method == "POST":
            body = self.body()
            try:
                user = array.check_password(str(body.get("user")), str(body.get("password")))
            except SimError:
                return 400, {"code": 5, "desc": "invalid username or password"}
            return 201, {"key": array.open_session(user)}
        if self.session_user() is None:
            return 403, {"code": 6, "desc": "invalid session key"}
        if len(rest) == 2 and rest[0] == "credentials" and method == "DELETE":
            array.logout(rest[1])
            return 200, {}
        array.count_request()
        view = VIEWS.get(rest[0]) if len(rest) == 1 and method == "GET" else None
        if view is None:
            raise HttpError(404, "not found")
        return 200, view(array)


def _mib(n: int) -> int:
    return n // MiB


def _system(array: SimArray) -> dict[str, Any]:
    s = array.inv.storage
    return {"id": 1000183, "name": s["name"], "model": array.cfg.model, "serialNumber": s["serial_number"],
            "systemVersion": s["firmware_version"], "location": "lab",
            "totalCapacityMiB": _mib(s["raw_capacity"]), "allocatedCapacityMiB": _mib(s["used_capacity"]),
            "freeCapacityMiB": _mib(s["free_capacity"])}


def _capacity(array: SimArray) -> dict[str, Any]:
    s = array.inv.storage
    return {"allCapacity": {"totalMiB": _mib(s["total_capacity"]), "allocatedMiB": _mib(s["used_capacity"]),
                            "freeMiB": _mib(s["free_capacity"])}}


def _usage(total: int, used: int) -> dict[str, int]:
    return {"totalMiB": _mib(total), "usedMiB": _mib(used), "rawTotalMiB": _mib(total * 2)}


def _cpgs(array: SimArray) -> dict[str, Any]:
    """A CPG per pool, its user space the pool's (snapshot and admin space empty), ``id`` the
    pool's index: the driver keys volumes to CPGs by name."""
    rows = [{"id": i, "name": p["name"], "state": NORMAL if p["status"] == "normal" else DEGRADED,
             "UsrUsage": _usage(p["total_capacity"], p["used_capacity"]), "SAUsage": _usage(0, 0),
             "SDUsage": _usage(0, 0)} for i, p in enumerate(array.inv.pools)]
    return {"total": len(rows), "members": rows}


def _volumes(array: SimArray) -> dict[str, Any]:
    pools = {p["native_storage_pool_id"]: p["name"] for p in array.inv.pools}
    rows = [{"id": i, "name": v["name"], "state": NORMAL if v["status"] == "available" else DEGRADED,
             "userCPG": pools.get(v["native_storage_pool_id"], ""), "provisioningType": 2 if v["type"] == "thin" else 1,
             "compressionState": 1 if v["compressed"] else 2, "deduplicationState": 1 if v["deduplicated"] else 2,
             "sizeMiB": _mib(v["total_capacity"]), "userSpace": {"usedMiB": _mib(v["used_capacity"])},
             "wwn": v["wwn"].upper(), "comment": ""} for i, v in enumerate(array.inv.volumes)]
    return {"total": len(rows), "members": rows}


VIEWS: dict[str, Callable[[SimArray], dict[str, Any]]] = {
    "system": _system, "capacity": _capacity, "cpgs": _cpgs, "volumes": _volumes}


def _table(title: str, rows: list[list[Any]], footer: Optional[str] = None) -> str:
    lines = [title] + [" ".join(str(c) for c in r) for r in rows]
    if footer is not None:
        lines += ["-" * 40, footer]
    return "\n".join(lines) + "\n"


class Hpe3parCli:
    """The 3PAR CLI commands Delfin's driver runs, answered from the array's inventory. An alert
    is open per port whose link is down, until ``removealert``."""

    def __init__(self, array: SimArray) -> None:
        self.a = array
        self.removed: set[str] = set()
        self.lock = threading.Lock()

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        argv = command_words(command)
        handler = self.COMMANDS.get(argv[0] if argv else "")
        if handler is None:
            # the 3PAR CLI answers an unknown command on stdout, as the driver reads it
            return EXIT_OK, f"{argv[0] if argv else ''}: invalid command name\n".encode(), b""
        return EXIT_OK, handler(self, argv[1:]).encode(), b""

    # -- nodes -------------------------------------------------------------------------------
    def showwsapi(self, args: list[str]) -> str:
        return _table("-Service- -State- -HTTP_State- HTTP_Port -HTTPS_State- HTTPS_Port -Version-",
                      [["Enabled", "Active", "Disabled", 8008, "Enabled", 8080, "1.6.3"]])

    def checkhealth(self, args: list[str]) -> str:
        bad = [p for p in self.a.inv.ports if p["connection_status"] != "connected"]
        if not bad:
            return "Checking vv vlun task snmp port pd node network ld dar cage cabling\nSystem is healthy\n"
        rows = [["port", f"Port {p['name']}", "is", "degraded"] for p in bad]
        return "Component -Summary Description- Qty\n" + "\n".join(" ".join(r) for r in rows) + "\n"

    def shownode(self, args: list[str]) -> str:
        nodes = self.a.inv.controllers
        if args == ["-cpu"]:
            rows = [[i, cpu, "GenuineIntel", "--", 2327, 1334.57] for i in range(len(nodes)) for cpu in range(4)]
            return "-" * 20 + "CPUs" + "-" * 20 + "\n" + _table(
                "Node CPU -Manufacturer- -Serial- CPUSpeed(MHz) BusSpeed(MHz)", rows)
        rows = [[i, c["name"], "OK" if c["status"] == "normal" else "Degraded", "Yes" if i == 0 else "No", "Yes",
                 "unknown", "Green", c["memory_size"] // MiB // 2, c["memory_size"] // MiB // 2, 100]
                for i, c in enumerate(nodes)]
        return "                                  Control    Data        Cache\n" + _table(
            "Node --Name--- -State-- Master IC SLED LED Mem(MB) Mem(MB) Available(%)", rows)

    def showeeprom(self, args: list[str]) -> str:
        return "".join(f"Node: {i}\n--------\nSystem serial: {self.a.inv.storage['serial_number']}\n"
                       f"OS version: {self.a.inv.storage['firmware_version']}\nReset reason: Unknown\n\n"
                       for i in range(len(self.a.inv.controllers)))

    # -- disks -------------------------------------------------------------------------------
    def _cagepos(self, i: int) -> str:
        return f"0:{i}:0"

    def showpd(self, args: list[str]) -> str:
        disks = self.a.inv.disks
        if args == ["-i"]:
            rows = [[i, self._cagepos(i), "normal" if d["status"] == "normal" else "degraded", f"5000CCA0{i:08X}",
                     d["manufacturer"].upper(), d["model"], d["serial_number"], d["firmware"], "SAS", "Magnetic", 600]
                    for i, d in enumerate(disks)]
            return _table("Id CagePos State ----Node_WWN---- --MFR-- -----Model------ -Serial- -FW_Rev- "
                          "Protocol MediaType -----AdmissionTime-----", rows)
        rows = [[i, self._cagepos(i), "SSD" if d["physical_type"] == "ssd" else "FC", 15,
                 "normal" if d["status"] == "normal" else "degraded", d["capacity"] // MiB, d["capacity"] // MiB // 2,
                 "0:0:1*", "-----", d["capacity"] // 2**30] for i, d in enumerate(disks)]
        total = sum(d["capacity"] // MiB for d in disks)
        return "                           ---Size(MB)--- ----Ports----\n" + _table(
            "Id CagePos Type RPM State Total Free A B Cap(GB)", rows, f"{len(disks)} total {total} {total // 2}")

    # -- ports -------------------------------------------------------------------------------
    def _nsp(self, i: int) -> str:
        return f"{i % max(1, len(self.a.inv.controllers))}:{i // 2}:{i % 2 + 1}"

    def _ports(self) -> list[tuple[str, dict]]:
        return [(self._nsp(i), p) for i, p in enumerate(self.a.inv.ports)]

    def showport(self, args: list[str]) -> str:
        ports = self._ports()
        fc = [(n, p) for n, p in ports if p["type"] == "fc"]
        iscsi = [(n, p) for n, p in ports if p["type"] != "fc"]
        state = {True: "ready", False: "loss_sync"}
        if not args:
            rows = [[n, "target", state[p["connection_status"] == "connected"], "2FF70002AC001C9F",
                     (p["wwn"] or "").replace(":", "").upper() if p["type"] == "fc" else f"0002AC68{i:04X}",
                     "host", "FC" if p["type"] == "fc" else "iSCSI", "-", "-", "none"]
                    for i, (n, p) in enumerate(ports)]
            return _table("N:S:P Mode State ----Node_WWN---- -Port_WWN/HW_Addr- Type Protocol Label Partner "
                          "FailoverState", rows, f"{len(rows)}")
        flag = args[0]
        if flag == "-i":
            return _table("N:S:P Brand Model Rev Firmware Serial HWType",
                          [[n, "QLOGIC", "QLE2672", "02", "8.1.1", f"RFE{i:010d}", "FC" if p["type"] == "fc" else "ISCSI"]
                           for i, (n, p) in enumerate(ports)])
        if flag == "-par":
            return _table("N:S:P Connmode ConnType CfgRate MaxRate Class2 UniqNodeWwn VCN Il TMWO SSAN",
                          [[n, "host", "point", "auto", "16Gbps" if p["type"] == "fc" else "10Gbps", "disabled",
                            "disabled", "disabled", "enabled", "disabled", "n/a"] for n, p in ports])
        if flag == "-c":
            return _table("N:S:P Mode Device Pos Config Topology Rate Cls Mode_change",
                          [[n, "target", f"host_{n.replace(':', '_')}", 0, "valid", "fabric", "16Gbps", 3, "allowed"]
                           for n, p in fc if p["connection_status"] == "connected"])
        if flag == "-iscsi":
            return _table("N:S:P State IPAddr Netmask/PrefixLen Gateway TPGT MTU Rate iAddr iPort ST VLAN",
                          [[n, state[p["connection_status"] == "connected"], f"127.0.4.{i + 1}", "255.255.255.0",
                            "0.0.0.0", 21 + i, 1500, "10Gbps", "0.0.0.0", 3205, 21 + i, "Y"]
                           for i, (n, p) in enumerate(iscsi)])
        if flag == "-rcip":
            return _table("N:S:P State ---HwAddr--- IPAddr Netmask Gateway MTU Rate Duplex AutoNeg", [], "0")
        if flag in ("-fcoe", "-fs"):
            return _table("N:S:P State -Node_WWN- -Port_WWN/HW_Addr-", [], "0")
        return "showport: invalid option\n"

    # -- alerts ------------------------------------------------------------------------------
    def _alerts(self) -> list[tuple[str, str]]:
        with self.lock:
            removed = set(self.removed)
        return [(str(i + 1), n) for i, (n, p) in enumerate(self._ports())
                if p["connection_status"] != "connected" and str(i + 1) not in removed]

    def showalert(self, args: list[str]) -> str:
        opened = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.a.alerts_opened))   # the array's zone
        return "".join(f"Id : {aid}\nState : New\nMessageCode : 0x0060007\nTime : {opened}\nSeverity : Degraded\n"
                       f"Type : Port state change\nMessage : Port {nsp} Degraded (Loss of Sync)\n"
                       f"Component: Port {nsp}\n\n" for aid, nsp in self._alerts())

    def removealert(self, args: list[str]) -> str:
        alert = args[-1] if args else ""
        if alert not in {aid for aid, _ in self._alerts()}:
            return f"Unable to read alert {alert}\n"
        with self.lock:
            self.removed.add(alert)
        return ""

    COMMANDS: dict[str, Callable[["Hpe3parCli", list[str]], str]] = {
        "showwsapi": showwsapi, "checkhealth": checkhealth, "shownode": shownode, "showeeprom": showeeprom,
        "showpd": showpd, "showport": showport, "showalert": showalert, "removealert": removealert}
