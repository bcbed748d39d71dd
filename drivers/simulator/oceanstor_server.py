"""A Huawei OceanStor DeviceManager REST API over HTTPS: what Delfin's ``huawei oceanstor`` driver
talks to, shaped as that driver's code reads it. An OceanStor answers HTTP 200 and says what
went wrong in the body: ``{"data": ..., "error": {"code": 0, "description": "0"}}``.

    POST   /deviceManager/rest/xx/sessions  {"username", "password", "scope"} -> deviceid,
           iBaseToken (the login) | code 1077949061 (wrong user name or password)
    DELETE /deviceManager/rest/<deviceid>/sessions                       (the logout)
    GET    /deviceManager/rest/<deviceid>/<kind>[?range=[a-b]&...]  system, controller,
           storagepool, lun, disk, fc_port, eth_port (fcoe, pcie, bond, sas ports: none),
           filesystem, quotatree and FS_QUOTA (by PARENTID), NFSHARE, CIFSHARE, alarm/currentalarm;
           host, initiators, groups and mapping views: none
    DELETE /deviceManager/rest/<deviceid>/alarm/currentalarm?sequence=N  clears an alarm
    GET|PUT /deviceManager/rest/<deviceid>/performance_statistic_switch, .../performance_statistic_strategy
    GET    /deviceManager/rest/<deviceid>/performace_statistic/cur_statistic_data
           ?CMO_STATISTIC_UUID=<type>:<id>&CMO_STATISTIC_DATA_ID_LIST=22,25,...  the latest sample
Every request but the login needs the session's ``iBaseToken`` header (code -401 otherwise, on
which the driver logs in again). Sessions, counters and faults are the array's (``SimArray``).
"""
from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable

import numpy as np

from .. import perfgen
from .array import SimArray, SimError
from .array_http import ModelHandler
from .http_base import HttpError

TOKEN = "iBaseToken"
DEVICE_ID = "2102351234"
SECTOR = 512
#: the array's answer codes (an OceanStor's own numbering)
WRONG_CREDENTIALS = 1077949061
NOT_LOGGED_IN = -401
NOT_FOUND = 1077948996
PARAM_ERROR = 50331651
#: object types, as an OceanStor numbers them (``TYPE`` of each object, and in perf requests)
TYPES = {"storagePool": 216, "volume": 11, "controller": 207, "port": 212, "disk": 10, "filesystem": 40}
PERF_TYPE = {v: k for k, v in TYPES.items() if k != "filesystem"}
#: performance data ids -> our metric names (an OceanStor's statistic numbering)
DATA_IDS = {"22": "iops", "25": "readIops", "28": "writeIops", "21": "throughput", "23": "readThroughput",
            "26": "writeThroughput", "370": "responseTime", "228": "ioSize", "24": "readIoSize",
            "27": "writeIoSize", "303": "cacheHitRatio", "93": "readCacheHitRatio", "95": "writeCacheHitRatio"}
#: the performance statistics settings, read and written whole (Delfin's driver sets them)
SETTINGS = {"performance_statistic_switch": ("CMO_PERFORMANCE_SWITCH",),
            "performance_statistic_strategy": ("CMO_STATISTIC_ARCHIVE_SWITCH", "CMO_STATISTIC_ARCHIVE_TIME",
                                               "CMO_STATISTIC_AUTO_STOP", "CMO_STATISTIC_INTERVAL",
                                               "CMO_STATISTIC_MAX_TIME")}
NO_ROWS = ("fcoe_port", "pcie_port", "bond_port", "sas_port", "FTP_SHARE_AUTH_CLIENT", "host", "hostgroup",
           "portgroup", "lungroup", "mappingview", "fc_initiator", "iscsi_initiator", "ib_initiator")


class _Refused(Exception):
    """A request the array answers with an error code (and HTTP 200)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code


class OceanStorArray:
    """What an OceanStor keeps besides the shared array state: the alarms cleared, and the file
    resources derived from the seed."""

    def __init__(self, array: SimArray) -> None:
        self.array = array
        self.cleared: set[str] = set()
        self.lock = threading.Lock()
        #: the performance statistics settings (``performance_statistic_switch`` and ``_strategy``)
        self.perf_settings: dict[str, Any] = {"CMO_PERFORMANCE_SWITCH": "1", "CMO_STATISTIC_ARCHIVE_SWITCH": "1",
                                              "CMO_STATISTIC_ARCHIVE_TIME": "300", "CMO_STATISTIC_AUTO_STOP": "0",
                                              "CMO_STATISTIC_INTERVAL": "60", "CMO_STATISTIC_MAX_TIME": "0"}
        self.files = _file_resources(array)


def _answer(data: Any = None, code: int = 0, description: str = "0") -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "description": description}}
    if data is not None:
        body["data"] = data
    return body


class OceanStorRestHandler(ModelHandler):
    GARBAGE = b"{\"data\": [{\"ID\": <<garbage"
    SESSION_HEADER = TOKEN

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if parts[:2] != ["deviceManager", "rest"] or len(parts) < 4:
            raise HttpError(404, "not found")
        ocean: OceanStorArray = self.server.context  # type: ignore[attr-defined]
        array, device, rest = ocean.array, parts[2], parts[3:]
        if device == "xx" and rest == ["sessions"] and method == "POST":
            body = self.body()
            try:
                user = array.check_password(str(body.get("username")), str(body.get("password")))
                token = array.open_session(user)
            except SimError as exc:
                if exc.status == 401:
                    return 200, _answer({}, WRONG_CREDENTIALS, "The user name or password is incorrect.")
                raise
            return 200, _answer({"deviceid": DEVICE_ID, "iBaseToken": token, "accountstate": 1,
                                 "username": user, "level": 2})
        if device != DEVICE_ID or self.session_user() is None:
            return 200, _answer(code=NOT_LOGGED_IN, description="unauthorized")
        if rest == ["sessions"] and method == "DELETE":
            array.logout(self.session_key())
            return 200, _answer()
        array.count_request()
        path = "/".join(rest)
        if path == "alarm/currentalarm" and method == "DELETE":
            return 200, self._clear(ocean)
        if path in SETTINGS and method in ("GET", "PUT"):
            return 200, _answer(self._settings(ocean, SETTINGS[path], method))
        if method != "GET":
            raise HttpError(404, "not found")
        if path == "performace_statistic/cur_statistic_data":
            try:
                return 200, _answer(self._sample(array))
            except _Refused as exc:
                return 200, _answer(code=exc.code, description=str(exc))
        view = VIEWS.get(path)
        if view is None:
            if path in NO_ROWS or path.endswith("/associate"):
                return 200, _answer()
            raise HttpError(404, "not found")
        rows = view(ocean)
        if isinstance(rows, dict):                 # a single object (system)
            return 200, _answer(rows)
        for key in ("PARENTID", "PARENTTYPE"):
            if key in self.query:
                rows = [r for r in rows if str(r.get(key)) == self.query[key]]
        first, last = self._range()
        return 200, _answer(rows[first:last]) if rows[first:last] else _answer()

    def _settings(self, ocean: OceanStorArray, keys: tuple[str, ...], method: str) -> dict[str, Any]:
        with ocean.lock:
            if method == "PUT":
                body = self.body()
                ocean.perf_settings.update({k: str(body[k]) for k in keys if k in body})
            return {k: ocean.perf_settings[k] for k in keys}

    def _range(self) -> tuple[int, int]:
        raw = self.query.get("range", "")
        lo, _, hi = raw.strip("[]").partition("-")
        if not (lo.isdigit() and hi.isdigit() and int(lo) <= int(hi)):
            return 0, 100
        return int(lo), int(hi)

    def _clear(self, ocean: OceanStorArray) -> dict[str, Any]:
        sequence = self.query.get("sequence", "")
        if sequence not in {a["sequence"] for a in _alarms(ocean)}:
            return _answer(code=NOT_FOUND, description=f"no alarm with sequence {sequence}")
        with ocean.lock:
            ocean.cleared.add(sequence)
        return _answer()

    def _sample(self, array: SimArray) -> list[dict[str, Any]]:
        """The latest sample of one object: its statistic values in the order asked, at the
        array's last sampling time (an OceanStor keeps real-time data only)."""
        kind, _, obj_id = self.query.get("CMO_STATISTIC_UUID", "").partition(":")
        rtype = PERF_TYPE.get(int(kind)) if kind.isdigit() else None
        if rtype is None or obj_id not in array.perf_resources.get(rtype, []):
            raise _Refused(PARAM_ERROR, f"no statistics for object {kind}:{obj_id}")
        ids = [i for i in self.query.get("CMO_STATISTIC_DATA_ID_LIST", "").split(",") if i]
        if not ids or any(i not in DATA_IDS for i in ids):
            raise _Refused(PARAM_ERROR, "CMO_STATISTIC_DATA_ID_LIST names unknown statistics")
        step = array.cfg.perf_interval
        sampled = int(time.time()) // step * step
        values = perfgen.series_values(array.cfg.seed, rtype, [obj_id], [DATA_IDS[i] for i in ids],
                                       np.array([sampled * 1000], dtype=np.int64))
        return [{"CMO_STATISTIC_UUID": f"{kind}:{obj_id}", "CMO_STATISTIC_TIMESTAMP": str(sampled),
                 "CMO_STATISTIC_DATA_LIST": ",".join(str(int(v)) for v in values)}]


def _sectors(n: int) -> str:
    return str(n // SECTOR)


def _system(ocean: OceanStorArray) -> dict[str, Any]:
    s = ocean.array.inv.storage
    return {"ID": s["serial_number"], "NAME": ocean.array.cfg.model, "RUNNINGSTATUS": "1" if s["status"] == "normal"
            else "28", "SECTORSIZE": str(SECTOR), "TOTALCAPACITY": _sectors(s["total_capacity"]),
            "USEDCAPACITY": _sectors(s["used_capacity"]), "userFreeCapacity": _sectors(s["free_capacity"]),
            "MEMBERDISKSCAPACITY": _sectors(s["raw_capacity"]), "LOCATION": "lab", "TYPE": 201}


def _controllers(ocean: OceanStorArray) -> list[dict]:
    firmware = ocean.array.inv.storage["firmware_version"]
    return [{"ID": c["native_controller_id"], "NAME": c["name"], "TYPE": TYPES["controller"],
             "RUNNINGSTATUS": "27" if c["status"] == "normal" else "28", "LOCATION": f"CTE0.{c['name']}",
             "SOFTVER": firmware, "CPUINFO": "Kunpeng 920", "MEMORYSIZE": str(c["memory_size"] // 2**20)}
            for c in ocean.array.inv.controllers]


def _pools(ocean: OceanStorArray) -> list[dict]:
    return [{"ID": p["native_storage_pool_id"], "NAME": p["name"], "TYPE": TYPES["storagePool"],
             "RUNNINGSTATUS": "27" if p["status"] == "normal" else "28", "USAGETYPE": "1",
             "USERTOTALCAPACITY": _sectors(p["total_capacity"]), "USERCONSUMEDCAPACITY": _sectors(p["used_capacity"]),
             "USERFREECAPACITY": _sectors(p["free_capacity"])} for p in ocean.array.inv.pools]


def _luns(ocean: OceanStorArray) -> list[dict]:
    pool_names = {p["native_storage_pool_id"]: p["name"] for p in ocean.array.inv.pools}
    return [{"ID": v["native_volume_id"], "NAME": v["name"], "TYPE": TYPES["volume"], "WWN": v["wwn"],
             "PARENTNAME": pool_names.get(v["native_storage_pool_id"], ""),
             "RUNNINGSTATUS": "27" if v["status"] == "available" else "28",
             "ALLOCTYPE": "1" if v["type"] == "thin" else "0", "SECTORSIZE": str(SECTOR),
             "CAPACITY": _sectors(v["total_capacity"]), "ALLOCCAPACITY": _sectors(v["used_capacity"]),
             "ENABLECOMPRESSION": str(v["compressed"]).lower(), "ENABLEDEDUP": str(v["deduplicated"]).lower()}
            for v in ocean.array.inv.volumes]


def _disks(ocean: OceanStorArray) -> list[dict]:
    return [{"ID": d["native_disk_id"], "TYPE": TYPES["disk"], "MODEL": d["model"], "SERIALNUMBER": d["serial_number"],
             "MANUFACTURER": d["manufacturer"], "FIRMWAREVER": d["firmware"], "SPEEDRPM": str(d["speed"]),
             "RUNNINGSTATUS": "27" if d["status"] == "normal" else "28", "HEALTHMARK": "100",
             "DISKTYPE": "3" if d["physical_type"] == "ssd" else "1", "LOGICTYPE": "2",
             "SECTORS": _sectors(d["capacity"]), "SECTORSIZE": str(SECTOR), "LOCATION": d["location"]}
            for d in ocean.array.inv.disks]


def _port(p: dict, i: int) -> dict:
    return {"ID": p["native_port_id"], "NAME": p["name"], "LOCATION": f"CTE0.A.IOM0.P{i}", "HEALTHSTATUS": "1",
            "RUNNINGSTATUS": "10" if p["connection_status"] == "connected" else "11", "LOGICTYPE": "0",
            "PARENTID": p["native_parent_id"]}


def _fc_ports(ocean: OceanStorArray) -> list[dict]:
    return [{**_port(p, i), "TYPE": "212", "WWN": p["wwn"], "RUNSPEED": "16000", "MAXSUPPORTSPEED": "32000"}
            for i, p in enumerate(ocean.array.inv.ports) if p["type"] == "fc"]


def _eth_ports(ocean: OceanStorArray) -> list[dict]:
    return [{**_port(p, i), "TYPE": "213", "SPEED": "10000", "maxSpeed": "25000", "MACADDRESS": f"00:e0:fc:00:00:{i:02x}",
             "IPV4ADDR": f"127.0.3.{i + 1}", "IPV4MASK": "255.255.255.0"}
            for i, p in enumerate(ocean.array.inv.ports) if p["type"] != "fc"]


def _alarms(ocean: OceanStorArray) -> list[dict]:
    """One alarm per port whose link is down (as the other simulated arrays), gone once cleared."""
    opened = ocean.array.alerts_opened
    with ocean.lock:
        cleared = set(ocean.cleared)
    rows = [{"sequence": str(1000 + i), "eventID": "0xF00CF0015", "name": "Link to the port is down", "level": 5,
             "eventType": 1, "startTime": opened, "description": f"The link of port {p['name']} is down.",
             "suggestion": "Check the cable.", "location": p["name"]}
            for i, p in enumerate(ocean.array.inv.ports) if p["connection_status"] != "connected"]
    return [r for r in rows if r["sequence"] not in cleared]


def _file_resources(array: SimArray) -> dict[str, list[dict]]:
    """Per pool: a file system with a quota tree, a directory quota on that tree, an NFS share of
    the file system and an SMB share of the tree; sizes from the array's seed."""
    rnd, out = random.Random(array.cfg.seed), {k: [] for k in ("filesystem", "quotatree", "FS_QUOTA",
                                                               "NFSHARE", "CIFSHARE")}
    for i, pool in enumerate(array.inv.pools, start=1):
        fs, qt = str(i), f"{i}.1"
        total = rnd.randint(1, 64) * 2**40
        used = int(total * rnd.uniform(0.05, 0.9))
        out["filesystem"].append({"ID": fs, "NAME": f"{array.cfg.name}-fs-{i}", "TYPE": 40, "HEALTHSTATUS": "1",
                                  "ALLOCTYPE": "1" if i % 2 else "0", "PARENTTYPE": 216,
                                  "PARENTID": pool["native_storage_pool_id"], "SECTORSIZE": str(SECTOR),
                                  "CAPACITY": _sectors(total), "ALLOCCAPACITY": _sectors(used),
                                  "AVAILABLECAPCITY": _sectors(total - used), "ENABLECOMPRESSION": "false",
                                  "ENABLEDEDUP": "false", "WORMTYPE": "0"})
        out["quotatree"].append({"ID": qt, "NAME": f"qtree{i}", "TYPE": 16445, "PARENTTYPE": 40, "PARENTID": fs,
                                 "securityStyle": "3"})
        out["FS_QUOTA"].append({"ID": f"quota-{i}", "QUOTATYPE": "1", "PARENTTYPE": 16445, "PARENTID": qt,
                                "SPACEHARDQUOTA": str(2**40), "SPACESOFTQUOTA": str(2**39),
                                "FILEHARDQUOTA": "INVALID_VALUE64", "FILESOFTQUOTA": "INVALID_VALUE64",
                                "SPACEUSED": str(min(used // 4, 2**39)), "FILEUSED": "1024",
                                "USRGRPOWNERNAME": ""})
        out["NFSHARE"].append({"ID": f"nfs-{i}", "NAME": f"/{array.cfg.name}-fs-{i}/", "type": "16401", "FSID": fs,
                               "SHAREPATH": f"/{array.cfg.name}-fs-{i}/"})
        out["CIFSHARE"].append({"ID": f"smb-{i}", "NAME": f"smb{i}", "subType": "0", "FSID": fs,
                                "SHAREPATH": f"/{array.cfg.name}-fs-{i}/qtree{i}/"})
    return out


def _files(kind: str) -> Callable[[OceanStorArray], list[dict]]:
    return lambda ocean: ocean.files[kind]


VIEWS: dict[str, Callable[[OceanStorArray], Any]] = {
    "system": _system, "controller": _controllers, "storagepool": _pools, "lun": _luns, "disk": _disks,
    "fc_port": _fc_ports, "eth_port": _eth_ports, "alarm/currentalarm": _alarms,
    **{kind: _files(kind) for kind in ("filesystem", "quotatree", "FS_QUOTA", "NFSHARE", "CIFSHARE")}}
