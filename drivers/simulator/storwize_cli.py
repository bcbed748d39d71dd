"""An IBM Storwize / SVC command line over SSH: what Delfin's ``ibm storwize_svc`` driver runs,
answered in the layout its parser reads (tables with a header line, details as ``key value``
lines, ``lsvdisk -delim :`` as ``key:value``).

    lssystem | lsmdiskgrp [id] | lsvdisk [-delim : id] | lsnode [id] | lsmdisk [id]
    lsportfc [id] | lsportip <1|2> | lseventlog [-monitoring yes -message no | seq]
    cheventlog -fix <seq> | lsdumps -prefix /dumps/iostats   (+ ``scp -f`` of those files)
Data come from the array's inventory (``SimArray``), so counts match the other simulators.
Performance is served as the real system does: one XML statistics file per sample interval
and per kind (``Nv_stats_*`` volumes, ``Nm_stats_*`` managed disks, ``Nn_stats_*`` nodes and
FC ports) with cumulative counters, listed by ``lsdumps`` and fetched with scp; files older
than the array's retention are gone.
"""
from __future__ import annotations

import math
import shlex
import time
import zlib
from typing import Any, Callable, Optional

from .array import SimArray

EXIT_OK, EXIT_UNKNOWN = 0, 127
TB, GB = 1024 ** 4, 1024 ** 3
STATS_DIR = "/dumps/iostats/"
PANEL = "78N2M8E"
#: the XML element of each stats file kind, and the namespace real files carry
STATS_NS = "http://ibm.com/storage/management/performance/api/2003/04/diskStats"


def size(n: int) -> str:
    """Storwize's capacity text: two decimals and a unit."""
    return f"{n / TB:.2f}TB" if n >= TB else f"{n / GB:.2f}GB"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = [" ".join(header)] + [" ".join(str(c) for c in r) for r in rows]
    return "\n".join(lines) + "\n"


def detail(pairs: list[tuple[str, Any]], delim: str = " ") -> str:
    return "".join(f"{k}{delim}{'' if v is None else v}\n" for k, v in pairs)


class StorwizeCli:
    def __init__(self, array: SimArray) -> None:
        self.a = array
        self.fixed: set[int] = set()

    @staticmethod
    def busy() -> bytes:
        """The CLI's answer while the array is throttling: the error a Storwize gives while the
        system is not in a state to answer (on stderr, as all its CMMVC errors)."""
        return b"CMMVC5786E The action failed because the cluster is not in a stable state.\n"

    # -- objects ------------------------------------------------------------------------------
    def _nodes(self) -> list[dict]:
        return [{"id": i + 1, "name": f"node{i + 1}", "status": "online" if c["status"] == "normal" else "offline",
                 "code_level": f"{c['soft_version']} (build 150.17.2103291404000)"}
                for i, c in enumerate(self.a.inv.controllers)]

    def _node_of(self, i: int) -> str:
        return f"node{i % max(1, len(self.a.inv.controllers)) + 1}"

    def _wwpn(self, i: int) -> str:
        """16 hex digits that neither start nor end with 0 (Delfin matches them after
        ``strip('0x')``, which would eat such zeros)."""
        return f"5005076801{self.a.cfg.seed % 256:02X}{i:03X}1"

    def _fc_ports(self) -> list[tuple[int, dict]]:
        return [(i, p) for i, p in enumerate(self.a.inv.ports) if p["type"] == "fc"]

    def _ip_ports(self) -> list[tuple[int, dict]]:
        return [(i, p) for i, p in enumerate(self.a.inv.ports) if p["type"] != "fc"]

    def _events(self) -> list[dict]:
        events = []
        for i, p in enumerate(self.a.inv.ports):
            if p["connection_status"] != "connected" and 100 + i not in self.fixed:
                events.append({"sequence_number": 100 + i, "event_id": "073003", "event_id_text":
                               "Fibre_Channel_ports_are_not_operational", "object_type": "port",
                               "object_name": f"{self._node_of(i)}_{i}", "notification_type": "error"})
        for i, d in enumerate(self.a.inv.disks):
            if d["status"] != "normal" and 500 + i not in self.fixed:
                events.append({"sequence_number": 500 + i, "event_id": "010017", "event_id_text":
                               "Drive_reported_degraded", "object_type": "mdisk", "object_name": f"mdisk{i}",
                               "notification_type": "warning"})
        return events

    # -- commands -----------------------------------------------------------------------------
    def run(self, command: str) -> tuple[int, bytes, bytes]:
        try:
            argv = shlex.split(command)
        except ValueError:
            return 1, b"", b"CMMVC5709E syntax error\n"
        if not argv:
            return 1, b"", b"CMMVC5709E syntax error\n"
        handler: Optional[Callable[[list[str]], str]] = getattr(self, f"cmd_{argv[0]}", None)
        if handler is None:
            return EXIT_UNKNOWN, b"", f"rbash: {argv[0]}: command not found\n".encode()
        try:
            return EXIT_OK, handler(argv[1:]).encode(), b""
        except LookupError:
            return 1, b"", b"CMMVC5753E The specified object does not exist or is not a suitable candidate.\n"

    def cmd_lssystem(self, args: list[str]) -> str:
        s = self.a.inv.storage
        return detail([("id", s["serial_number"]), ("name", s["name"]), ("location", "local"),
                       ("statistics_status", "on"), ("total_mdisk_capacity", size(s["raw_capacity"])),
                       ("total_used_capacity", size(s["used_capacity"])),
                       ("total_free_space", size(s["free_capacity"])),
                       ("virtual_capacity", size(s["subscribed_capacity"])),
                       ("code_level", f"{s['firmware_version']} (build 150.17.2103291404000)"),
                       ("product_name", "IBM Storwize V7000")])

    def cmd_lsmdiskgrp(self, args: list[str]) -> str:
        pools = self.a.inv.pools
        if not args:
            return table(["id", "name", "status", "capacity"],
                         [[i, p["name"], "online", size(p["total_capacity"])] for i, p in enumerate(pools)])
        i = int(args[-1])
        p = pools[i]
        return detail([("id", i), ("name", p["name"]), ("status", "online"), ("capacity", size(p["total_capacity"])),
                       ("free_capacity", size(p["free_capacity"])), ("used_capacity", size(p["used_capacity"])),
                       ("virtual_capacity", size(p["subscribed_capacity"]))])

    def cmd_lsvdisk(self, args: list[str]) -> str:
        vols = self.a.inv.volumes
        if not args or args[-1].startswith("-"):
            return table(["id", "name", "IO_group_id", "status", "capacity"],
                         [[i, v["name"], 0, "online", size(v["total_capacity"])] for i, v in enumerate(vols)])
        i = int(args[-1])
        v = vols[i]
        delim = args[args.index("-delim") + 1] if "-delim" in args else " "
        pool = int(str(v["native_storage_pool_id"]).rsplit("-", 1)[-1])
        return detail([("id", i), ("name", v["name"]), ("status", "online" if v["status"] == "available" else "offline"),
                       ("mdisk_grp_id", pool), ("capacity", size(v["total_capacity"])),
                       ("vdisk_UID", v["wwn"].upper()), ("se_copy", "yes" if v["type"] == "thin" else "no"),
                       ("used_capacity", size(v["used_capacity"])), ("free_capacity", size(v["free_capacity"])),
                       ("compressed_copy", "yes" if v["compressed"] else "no"),
                       ("deduplicated_copy", "yes" if v["deduplicated"] else "no")], delim)

    def cmd_lsnode(self, args: list[str]) -> str:
        nodes = self._nodes()
        if not args:
            return table(["id", "name", "status"], [[n["id"], n["name"], n["status"]] for n in nodes])
        n = next(n for n in nodes if str(n["id"]) == args[-1])
        return detail([(k, n[k]) for k in ("id", "name", "status", "code_level")])

    def cmd_lsmdisk(self, args: list[str]) -> str:
        disks, pools = self.a.inv.disks, self.a.inv.pools
        if not args:
            return table(["id", "name", "status", "capacity"],
                         [[i, f"mdisk{i}", "online", size(d["capacity"])] for i, d in enumerate(disks)])
        i = int(args[-1])
        d = disks[i]
        return detail([("id", i), ("name", f"mdisk{i}"), ("status", "online" if d["status"] == "normal" else "offline"),
                       ("fabric_type", "sas_direct"), ("controller_name", "controller0"),
                       ("capacity", size(d["capacity"])),
                       ("mdisk_grp_name", pools[i % len(pools)]["name"] if pools else "")])

    def cmd_lsportfc(self, args: list[str]) -> str:
        ports = self._fc_ports()
        if not args:
            return table(["id", "fc_io_port_id", "node_name", "status"],
                         [[i, i + 1, self._node_of(i), "active"] for i, _ in ports])
        i, p = next((i, p) for i, p in ports if str(i) == args[-1])
        return detail([("id", i), ("node_name", self._node_of(i)), ("type", "fc"), ("port_speed", "16Gb"),
                       ("status", "active" if p["connection_status"] == "connected" else "inactive_unconfigured"),
                       ("WWPN", self._wwpn(i))])

    def cmd_lsportip(self, args: list[str]) -> str:
        blocks = []
        for i, p in self._ip_ports():
            if args and str(i % 2 + 1) != args[-1]:
                continue
            blocks.append(detail([("id", i), ("node_name", self._node_of(i)), ("failover", "no"),
                                  ("state", "online"), ("link_state",
                                                        "active" if p["connection_status"] == "connected" else "inactive"),
                                  ("speed", "10Gb/s"), ("MAC", f"40:f2:e9:00:00:{i:02x}"),
                                  ("IP_address", f"127.0.2.{i + 1}"), ("mask", "255.255.255.0"),
                                  ("IP_address_6", "")]) + "\n")
        return "".join(blocks)

    def cmd_lseventlog(self, args: list[str]) -> str:
        events = self._events()
        if not args or args[-1] == "no":
            return table(["sequence_number", "last_timestamp", "object_type", "status", "event_id"],
                         [[e["sequence_number"], "201231120000", e["object_type"], "alert", e["event_id"]]
                          for e in events])
        e = next(e for e in events if str(e["sequence_number"]) == args[-1])
        epoch = int(self.a.started_at) - 600
        return detail([("sequence_number", e["sequence_number"]), ("last_timestamp_epoch", epoch),
                       ("object_type", e["object_type"]), ("object_name", e["object_name"]),
                       ("event_id", e["event_id"]), ("event_id_text", e["event_id_text"]),
                       ("notification_type", e["notification_type"])])

    def cmd_cheventlog(self, args: list[str]) -> str:
        seq = int(args[-1]) if args and args[-1].isdigit() else -1
        if seq not in {e["sequence_number"] for e in self._events()}:
            return f"CMMVC8275E The event log entry {seq} does not exist.\n"
        self.fixed.add(seq)
        return ""

    # -- performance: statistics files ----------------------------------------------------------
    def _sample_times(self) -> list[int]:
        """Sample times (s) still kept: every ``perf_interval`` within ``retention``."""
        step, now = self.a.cfg.perf_interval, int(time.time())
        last = now // step * step
        first = max(last - self.a.cfg.retention, int(self.a.started_at) // step * step - step)
        return list(range(first + step, last + 1, step))

    @staticmethod
    def _file_name(kind: str, t: int) -> str:
        return f"{kind}_stats_{PANEL}_{time.strftime('%y%m%d_%H%M%S', time.localtime(t))}"

    def cmd_lsdumps(self, args: list[str]) -> str:
        names = [self._file_name(kind, t) for t in self._sample_times() for kind in ("Nv", "Nm", "Nn")]
        return table(["id", "filename"], [[i, n] for i, n in enumerate(names)])

    def read_file(self, path: str) -> Optional[bytes]:
        """The content of a statistics file (for scp), or None if there is no such file."""
        name = path.rsplit("/", 1)[-1]
        for t in self._sample_times():
            for kind in ("Nv", "Nm", "Nn"):
                if self._file_name(kind, t) == name:
                    return self._stats_xml(kind, t).encode()
        return None

    def _counter(self, key: str, t: int, rate: int) -> int:
        """A cumulative counter: ``rate`` per second on average, always increasing."""
        k = t // self.a.cfg.perf_interval
        phase = (zlib.crc32(f"{self.a.cfg.seed}/{key}".encode()) % 628) / 100.0
        per = rate * self.a.cfg.perf_interval
        return per * k + int(per / 4 * math.sin(k * 0.7 + phase))

    def _attrs(self, key: str, t: int, names: dict[str, int]) -> str:
        return " ".join(f'{n}="{self._counter(f"{key}/{n}", t, rate)}"' for n, rate in names.items())

    def _stats_xml(self, kind: str, t: int) -> str:
        rows = []
        if kind == "Nv":
            for i, v in enumerate(self.a.inv.volumes):
                rows.append(f'<vdsk idx="{i}" id="{v["name"]}" ' + self._attrs(f"v{i}", t, {
                    "ro": 200, "wo": 100, "rb": 8000, "wb": 4000, "ctrs": 150, "ctws": 90,
                    "ctrhs": 120, "ctwhs": 80, "xl": 300}) + "/>")
        elif kind == "Nm":
            for i, _ in enumerate(self.a.inv.disks):
                rows.append(f'<mdsk idx="{i}" id="mdisk{i}" ' + self._attrs(f"m{i}", t, {
                    "ro": 300, "wo": 150, "rb": 12000, "wb": 6000, "rq": 500, "wq": 400}) + "/>")
        else:
            for n in self._nodes():
                rows.append(f'<node id="{n["name"]}" node_id="0x{n["id"]:016x}" ' + self._attrs(
                    f"n{n['id']}", t, {"ro": 900, "wo": 500, "rb": 40000, "wb": 20000, "rq": 800, "wq": 600}) + "/>")
            for i, _ in self._fc_ports():
                rows.append(f'<port id="{i}" fc_wwpn="0x{self._wwpn(i)}" ' + self._attrs(f"p{i}", t, {
                    n: 50 for n in ("cbr", "hbr", "lnbr", "rmbr", "cbt", "hbt", "lnbt", "rmbt", "cer", "her",
                                    "lner", "rmer", "cet", "het", "lnet", "rmet", "dtdt")}) + "/>")
        return (f'<?xml version="1.0" encoding="utf-8" ?>\n<diskStatsColl xmlns="{STATS_NS}" '
                f'cluster="{self.a.cfg.name}" timestamp="{time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))}">\n'
                + "\n".join(rows) + "\n</diskStatsColl>\n")
