"""A Hitachi NAS Platform (HNAS) console over SSH, as Delfin's ``hitachi hnas`` driver reads it:
an interactive shell (``invoke_shell``), one command typed after another, each answer read
from the terminal's output.

The console greets (``HDS NAS OS Console``, the MAC id), prompts ``<node>:$ ``, echoes each line
typed and answers it. ``evs-select <n>`` selects an EVS (the prompt becomes ``<node>[EVS<n>]:$ ``);
the per-EVS commands answer for the file systems of the selected one. Commands: ``cluster-show
[-y]``, ``ver``, ``system-information-get``, ``sd-list --scsi``, ``span-list``,
``span-space-distribution``, ``fc-hports``, ``fc-link-speed``, ``df -k``, ``filesystem-list``,
``event-log-show -w -s -x [--from '<time>']``, and with an EVS selected ``quota list <fs>``,
``virtual-volume list --verbose <fs>``, ``cifs-share list``, ``nfs-export list``.

From the array's inventory (``SimArray``): a node per controller, a span per pool, a system
drive per disk, a file system per pool (EVS 1 and 2 in turn) with a virtual volume (its qtree),
a ViVol quota with hard limits and a user quota with soft ones, a CIFS share of the virtual
volume and NFS exports of the file system and of the virtual volume, a host port per FC port,
and an event per port whose link is down (Warning) and per disk not normal (Severe).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .array import SimArray
from .ssh_server import Answer, command_words, find_view

EXIT_OK, EXIT_FAIL = 0, 1
GiB, KiB = 2 ** 30, 2 ** 10
MAC = "B7-6F-30-98-A6-57"
#: the event ids HNAS logs for a link down and a failed system drive
LINK_DOWN, DRIVE_FAILED = 8462, 8208


def _table(header: str, widths: list[int], rows: list[list[Any]], padded: bool = True) -> str:
    """Columns under a ``----`` line, two spaces between fields, each padded to its width (or,
    ``padded=False``, not: ``df -k``'s fields hold single spaces, and Delfin's driver splits its
    rows at every two spaces, so a field must start right after a pair)."""
    def line(cells: list[Any]) -> str:
        return "  ".join(str(c).ljust(w) if padded else str(c) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header.split("|")), line(["-" * w for w in widths])] + [line(r) for r in rows]) + "\n"


class HnasModel:
    """The server as its console shows it, derived from the array's inventory."""

    def __init__(self, array: SimArray) -> None:
        self.a = array
        inv = array.inv
        self.cluster = inv.storage["name"]
        self.nodes = [f"{self.cluster}-{i + 1}" for i in range(max(1, len(inv.controllers)))]
        self.spans = [{"name": p["name"], "pool": p, "drives": [i for i, _ in enumerate(inv.disks)
                                                                if i % len(inv.pools) == k]}
                      for k, p in enumerate(inv.pools)]
        self.fs = [{"name": f"fs{k + 1}", "dev": 1024 + k, "span": s["name"], "evs": k % 2 + 1,
                    "size": s["pool"]["total_capacity"] // 4 // GiB * GiB,
                    "used": s["pool"]["used_capacity"] // 4 // GiB * GiB, "vivol": f"vv{k + 1}"}
                   for k, s in enumerate(self.spans)]
        self.fc_ports = [p for p in inv.ports if p["type"] == "fc"]

    def span_free(self, span: dict) -> int:
        """A span's free space, in whole GiB: its pool's, less what its file systems take."""
        taken = sum(f["size"] for f in self.fs if f["span"] == span["name"])
        return max(0, span["pool"]["total_capacity"] - taken) // GiB

    def events(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The event log, newest first (here all opened together, when the array started)."""
        opened = self.a.alerts_opened
        rows = [{"id": LINK_DOWN, "severity": "Warning", "time": opened,
                 "text": f"[ {self.cluster} ] Fibre Channel link down on host port {p['name']}",
                 "cause": "The Fibre Channel link is down.", "resolution": "Check the cable and the switch."}
                for p in self.a.inv.ports if p["connection_status"] != "connected"]
        rows += [{"id": DRIVE_FAILED, "severity": "Severe", "time": opened,
                  "text": f"System drive {i} ({d['name']}) is not healthy",
                  "cause": "The system drive reported a fault.", "resolution": "Replace the drive."}
                 for i, d in enumerate(self.a.inv.disks) if d["status"] != "normal"]
        return [r for r in rows if r["time"] >= since]


class HnasShell:
    """One console session: the EVS selected is its state."""

    def __init__(self, model: HnasModel) -> None:
        self.m = model
        self.evs = 0

    def greeting(self) -> str:
        return f"\nHDS NAS OS Console\nMAC ID : {MAC}\n\n"

    def prompt(self) -> str:
        node = self.m.nodes[0]
        return f"{node}[EVS{self.evs}]:$ " if self.evs else f"{node}:$ "

    def run(self, command: str) -> Answer:
        argv = command_words(command)
        if argv[:1] == ["evs-select"]:
            evs = {str(f["evs"]) for f in self.m.fs}
            if len(argv) != 2 or argv[1] not in evs:
                return EXIT_FAIL, b"", f"EVS '{' '.join(argv[1:])}' does not exist\n".encode()
            self.evs = int(argv[1])
            return EXIT_OK, b"", b""
        found = find_view(VIEWS, argv)
        if found:
            view, args = found
            try:
                return EXIT_OK, view(self, args).encode(), b""
            except LookupError as exc:
                return EXIT_FAIL, b"", f"{exc.args[0]}\n".encode()
        return EXIT_FAIL, b"", f"{argv[0] if argv else command}: is not a recognized command\n".encode()

    def _selected(self) -> list[dict[str, Any]]:
        if not self.evs:
            raise LookupError("No EVS is selected: use evs-select")
        return [f for f in self.m.fs if f["evs"] == self.evs]

    def _fs(self, args: list[str]) -> dict[str, Any]:
        found = [f for f in self._selected() if args[-1:] == [f["name"]]]
        if not found:
            raise LookupError(f"File system '{' '.join(args)}' not found on EVS {self.evs}")
        return found[0]

    # -- server ------------------------------------------------------------------------------
    def cluster_show(self, args: list[str]) -> str:
        inv = self.m.a.inv
        if args == ["-y"]:
            evs = ",".join(str(e) for e in sorted({f["evs"] for f in self.m.fs})) or "0"
            return _table("ID|Node Name|Status|FS Access|Aggs|Netwrk|FC|EVS IDs", [3, 15, 8, 10, 10, 6, 3, 7],
                          [[i + 1, node, "ONLINE" if c["status"] == "normal" else "OFFLINE", "OK", "OK", "OK", "OK",
                            f"[{evs}]"] for i, (node, c) in enumerate(zip(self.m.nodes, inv.controllers))])
        health = {"normal": "Robust", "degraded": "Degraded"}.get(inv.storage["status"], "Critical")
        lines = ["Overall Status = Online", f"Cluster Health = {health}", "Cluster Mode = Clustered",
                 f"Cluster Name = {self.m.cluster}", f"Cluster UUID = uuid-{inv.storage['serial_number']}",
                 f"Cluster Size = {len(self.m.nodes)}"]
        for i, node in enumerate(self.m.nodes):
            lines += [f"   Node Name = {node}", f"     Node ID = {i + 1}"]
        return "\n".join(lines + ["Cluster GenId = 1", "Cluster Master = Yes"]) + "\n"

    def ver(self, args: list[str]) -> str:
        s = self.m.a.inv.storage
        return (f"\nModel: {s['model']}\n\nSoftware: {s['firmware_version']} (built 2016-10-28 21:51:37+01:00)\n\n"
                f"Hardware: NAS Platform ({s['serial_number']})\n\nboard        MMB1\n"
                f"mmb          {s['firmware_version']} release (2016-10-28 21:51:37+01:00)\n")

    def system_information(self, args: list[str]) -> str:
        s = self.m.a.inv.storage
        return f"\n      Name: {self.m.cluster}\n  Location: {s['location']}\n   Contact: \n"

    def system_drives(self, args: list[str]) -> str:
        spans = {i: s for s in self.m.spans for i in s["drives"]}
        records = []
        for i, d in enumerate(self.m.a.inv.disks):
            span = spans.get(i)
            used = f"'{span['name']}' (capacity {span['pool']['total_capacity'] // GiB}GiB)" if span else "No"
            records.append(
                f"Device ID:      {i}\nComment:        \n"
                f"Capacity:       {d['capacity'] // GiB}GiB ({d['capacity']} bytes)\n"
                f"Status:         {'OK' if d['status'] == 'normal' else 'Failed'}\nRole:           Primary\n"
                f"Access:         Allowed\nUsed in span:   {used}\n"
                f"Type:           Make: {d['manufacturer']}; Model: {d['model']}; Revision: {d['firmware']}\n"
                f"Luid:           [03:01:00]{d['serial_number']}\nBlocksize:      512\nLun:            {i}\n"
                f"HDS dev name:   {d['name']}\n")
        return "\n".join(records) + "\n"

    # -- spans (pools) -----------------------------------------------------------------------
    def spans(self, args: list[str]) -> str:
        rows = []
        for s in self.m.spans:
            total = s["pool"]["total_capacity"] // GiB
            free = self.m.span_free(s)
            rows.append([s["name"], "Yes" if s["pool"]["status"] == "normal" else "No",
                         f"{100 * free // max(1, total)}%", total, ",".join(map(str, s["drives"])) or "-", "90%"])
        width = max([17] + [len(s["name"]) for s in self.m.spans])
        return _table("Span instance name|OK?|Free|Cap/GiB|System drives|Con", [width, 3, 4, 7, 25, 3], rows)

    def span_space(self, args: list[str]) -> str:
        out = []
        for s in self.m.spans:
            out += [f"Span {s['name']}:", "", "  How each stripeset is used:", "    Stripeset 0:"]
            out += [f"{f['size'] // GiB:>17}GiB   {f['name']}" for f in self.m.fs if f["span"] == s["name"]]
            out += [f"{self.m.span_free(s):>17}GiB   [Free space]", "", "  Where each filesystem resides:"]
            out += [f"    Filesystem {f['name']}:" for f in self.m.fs if f["span"] == s["name"]]
            out.append("")
        return "\n".join(out) + "\n"

    # -- ports -------------------------------------------------------------------------------
    def host_ports(self, args: list[str]) -> str:
        out = [""]
        for n, p in enumerate(self.m.fc_ports, 1):
            up = p["connection_status"] == "connected"
            out += [f"Host Port {n}", "Addrs: 0x1" if up else "Addrs: not assigned", f"Port name: {p['wwn']}",
                    f"Node name: {p['wwn'][:-2]}ff ", f"FC Link is {'up' if up else 'down'}"]
            out += [f"Status : {'Good' if p['health_status'] == 'normal' else 'Bad'} "] if up else []
            out.append("")
        return "\n".join(out) + "\n"

    def link_speeds(self, args: list[str]) -> str:
        return "".join(f"FC {n}:      {p['speed'] // 10 ** 9} Gbps\n" for n, p in enumerate(self.m.fc_ports, 1))

    # -- file systems ------------------------------------------------------------------------
    def df(self, args: list[str]) -> str:
        rows = []
        for f in self.m.fs:
            size, used = f["size"] // KiB, f["used"] // KiB
            rows.append([f["dev"], f["name"], f["evs"], f"{size} KB", f"{used} KB ({100 * used // max(1, size)}%)",
                         "0 KB (0%)", "NA", f"{size - used} KB ({100 * (size - used) // max(1, size)}%)", "No",
                         "32 KB,WFS-2,128 DSBs"])
        return "\n" + _table("ID|Label|EVS|Size|Used|Snapshots|Deduped|Avail|Thin|FS Type",
                             [4, 5, 3, 11, 16, 9, 7, 17, 4, 5], rows, padded=False)

    def filesystems(self, args: list[str]) -> str:
        return _table("Instance name|Dev|On span|State|EVS|Cap/GiB|Confined|Flag", [17, 4, 11, 5, 3, 7, 8, 4],
                      [[f["name"], f["dev"], f["span"], "Mount", f["evs"], f["size"] // GiB, f["size"] // GiB, ""]
                       for f in self.m.fs])

    def quotas(self, args: list[str]) -> str:
        f = self._fs(args)
        hard_gib = max(1, f["size"] // GiB // 10)
        rows = [("ViVol", f["vivol"], f["used"] // 2, f"{hard_gib} GB (Hard)", 1000, "5000 (Hard)"),
                ("User", "root", 10 * GiB, f"{hard_gib // 2 or 1} GB (Soft)", 7, "213 (Soft)")]
        return "".join(f"Type            : Explicit\nTarget          : {kind}: {target}\n"
                       f"Usage           : {usage // GiB} GB\n  Limit         : {limit}\n"
                       f"  Warning       : 75%\nFile Count      : {files}\n  Limit         : {file_limit}\n"
                       f"  Warning       : 75%\nGenerate Events : Disabled\n\n"
                       for kind, target, usage, limit, files, file_limit in rows)

    def virtual_volumes(self, args: list[str]) -> str:
        f = self._fs(args)
        return (f"{f['vivol']}\n  email        : \n  root         : /{f['vivol']}\n  tag          : 1\n"
                f"  usage  bytes : 0 B  files: 1\n  last modified: 2021-09-23 07:18:14.714807865+00:00\n")

    def cifs_shares(self, args: list[str]) -> str:
        return "\n" + "".join(
            f"           Share name: {f['vivol']}\n           Share path: \\{f['vivol']}\n"
            f"          Share users: 0\n         Share online: Yes\n"
            f"        Share comment: Share associated with Virtual Volume {f['vivol']}\n"
            f"     File system label: {f['name']}\n      File system size: {f['size'] // GiB} GB\n"
            f"     Home directories: Off\n\n" for f in self._selected())

    def nfs_exports(self, args: list[str]) -> str:
        return "\n" + "".join(
            f"            Export name: {name}\n            Export path: {path}\n"
            f"      File system label: {f['name']}\n       File system size: {f['size'] // GiB} GB\n"
            f"           Read Caching: Disabled\n\nExport configuration:\n*\n\n\n"
            for f in self._selected() for name, path in ((f"/{f['name']}", "/"), (f"/{f['vivol']}", f"/{f['vivol']}")))

    # -- events ------------------------------------------------------------------------------
    def event_log(self, args: list[str]) -> str:
        since = 0.0
        if "--from" in args[:-1]:
            try:       # the console's own clock (local time)
                since = time.mktime(time.strptime(args[args.index("--from") + 1], "%Y-%m-%d %H:%M:%S"))
            except ValueError:
                raise LookupError(f"Invalid date '{args[args.index('--from') + 1]}'") from None
        now = f"****** Current time : {_stamp(time.time())} ******"
        events = [f"{e['id']} {e['severity']:<11} {_stamp(e['time'])} {e['text']}\n"
                  f"    CAUSE:      {e['cause']}\n    RESOLUTION: {e['resolution']}\n" for e in self.m.events(since)]
        # as the console prints it: a blank line between events, none after the last one
        return f"{now}\n" + "\n".join(events) + f"{now}\n"


def _stamp(t: float) -> str:
    """An event time as the console prints it: local time and its UTC offset."""
    offset = time.strftime("%z", time.localtime(t))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f"{offset[:3]}:{offset[3:]}"


#: the commands by their leading words, longest first where one starts another
VIEWS: list[tuple[list[str], Callable[[HnasShell, list[str]], str]]] = [
    (["cluster-show"], HnasShell.cluster_show), (["ver"], HnasShell.ver),
    (["system-information-get"], HnasShell.system_information), (["sd-list", "--scsi"], HnasShell.system_drives),
    (["span-list"], HnasShell.spans), (["span-space-distribution"], HnasShell.span_space),
    (["fc-hports"], HnasShell.host_ports), (["fc-link-speed"], HnasShell.link_speeds),
    (["df", "-k"], HnasShell.df), (["filesystem-list"], HnasShell.filesystems),
    (["event-log-show", "-w", "-s", "-x"], HnasShell.event_log), (["quota", "list"], HnasShell.quotas),
    (["virtual-volume", "list", "--verbose"], HnasShell.virtual_volumes),
    (["cifs-share", "list"], HnasShell.cifs_shares), (["nfs-export", "list"], HnasShell.nfs_exports),
]


class HnasCli:
    """The console: an interactive shell per channel (``open_shell``), the way Delfin's driver
    uses it; a command on an exec channel runs in a fresh console with no EVS selected."""

    def __init__(self, array: SimArray) -> None:
        self.m = HnasModel(array)

    def open_shell(self) -> HnasShell:
        return HnasShell(self.m)

    def run(self, command: str) -> Answer:
        return HnasShell(self.m).run(command)
