"""A NetApp ONTAP 9.8 cluster: its CLI over SSH (``-instance`` records and tables, as Delfin's
``netapp cmode`` driver parses them) and its REST API over HTTPS for performance.

CLI (one record per object, ``Key: value`` lines, a blank line between records; tables under a
``----`` line): ``cluster identity show``, ``version``, ``system health status show``, ``node
show -instance``, ``storage aggregate show -instance``, ``storage pool show -instance``, ``vol
show -instance``, ``vol show -space-guarantee none``, ``lun show -instance``, ``disk show
-instance | -physical``, ``disk error show``, ``network port show -instance``, ``fcp adapter show
-instance``, ``network interface show -fields curr-node,address -role node-mgmt`` (and ``-fields
address -role cluster-mgmt``: the alert sources), ``qtree show
-instance``, ``vserver show -fields Allowed-protocols``, ``vserver show -type data``, ``vserver
cifs share show -instance -vserver <v>``, ``volume show -junction-active true -instance``,
``volume quota policy rule show -instance``, ``system health alert show -instance``, ``system
health alert delete -alerting-resource * -alert-id <id>``.

REST (basic authentication on every request, 401 otherwise; no session): ``GET
/api/cluster/metrics``, ``/api/storage/aggregates/<uuid>/metrics``, ``/api/storage/luns/<uuid>/
metrics``, ``/api/storage/volumes[?fields=svm]``, ``/api/storage/volumes/<uuid>/metrics``,
``/api/network/fc/ports[/<uuid>/metrics]``, ``/api/network/ethernet/ports[/<uuid>/metrics]``:
``{"records": [...]}``, the last hour of samples (``interval=1h``), iops and throughput (bytes/s)
and latency (microseconds) as ``{read, write, other, total}``.

From the array's inventory (``SimArray``): a node per controller, an aggregate per pool (its
UUID is the pool's id), a volume (file system) per pool with a named qtree beside the volume's
own, a CIFS share and an NFS export per volume, a tree and a user quota per volume, a LUN per
volume (its serial number is the volume's id), FC ports as FC adapters and the others as
Ethernet ports, an alert per port whose link is down.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from .. import perfgen
from .array import SimArray
from .array_http import ModelHandler
from .http_base import HttpError
from .ssh_server import command_words, find_view

EXIT_OK = 0
VSERVER = "svm1"
RELEASE = "NetApp Release 9.8: Fri Aug 19 06:39:33 UTC 2016"
NO_ENTRIES = "There are no entries matching your query.\r\n"
MiB = 2 ** 20


def _records(rows: list[dict[str, Any]]) -> str:
    """``-instance`` output: right-aligned keys, ``: ``, the value; a blank line between records."""
    if not rows:
        return NO_ENTRIES
    width = max(len(k) for row in rows for k in row)
    return "\r\n".join("\r\n".join(f"{k:>{width}}: {v}" for k, v in row.items()) + "\r\n" for row in rows)


def _table(header: str, rows: list[list[Any]]) -> str:
    if not rows:
        return NO_ENTRIES
    lines = [header, " ".join("-" * max(3, len(h)) for h in header.split())]
    lines += [" ".join(str(c) for c in row) for row in rows]
    return "\r\n".join(lines) + (f"\r\n{len(rows)} entries were displayed.\r\n" if len(rows) > 1 else "\r\n")


class NetAppModel:
    """The cluster as its CLI and REST API show it, derived from the array's inventory."""

    def __init__(self, array: SimArray) -> None:
        self.a = self.array = array
        inv = array.inv
        self.cluster = inv.storage["name"]
        self.nodes = {c["native_controller_id"]: f"{self.cluster}-{i + 1:02d}" for i, c in enumerate(inv.controllers)}
        self.fs = [{"name": f"vol_{i}", "uuid": f"fs-{p['native_storage_pool_id']}", "pool": p,
                    "size": p["total_capacity"] // 4, "used": p["used_capacity"] // 4, "junction": f"/vol_{i}",
                    "security": ("unix", "ntfs", "mixed")[i % 3]} for i, p in enumerate(inv.pools)]
        self.fs_of_pool = {f["pool"]["native_storage_pool_id"]: f for f in self.fs}
        self.deleted: set[str] = set()
        self.lock = threading.Lock()

    def node_of(self, controller_id: str) -> str:
        return self.nodes.get(controller_id, next(iter(self.nodes.values()), f"{self.cluster}-01"))

    def alerts(self) -> list[dict[str, Any]]:
        """One alert per port whose link is down, gone once deleted."""
        opened = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(self.a.alerts_opened))
        with self.lock:
            deleted = set(self.deleted)
        rows = [{"Node": self.node_of(p["native_parent_id"]), "Monitor": "node-connect",
                 "Alert ID": f"PortLinkDown_{i}", "Alerting Resource": p["native_port_id"],
                 "Subsystem": "SAS-connect", "Indication Time": opened, "Perceived Severity": "Major",
                 "Probable Cause": "Connection_establishment_error", "Description": f"Port {p['native_port_id']} is down",
                 "Corrective Actions": "Check the cable", "Possible Effect": "Access to storage might be lost",
                 "Acknowledge": "false", "Suppress": "false", "Policy": "PortLinkDown_Policy",
                 "Acknowledger": "-", "Suppressor": "-"}
                for i, p in enumerate(self.a.inv.ports) if p["connection_status"] != "connected"]
        return [r for r in rows if r["Alert ID"] not in deleted]


#: the address the cluster's management interface shows (a real cluster's is the one Delfin is
#: given; the simulated one answers on 127.0.0.1 whatever it shows), apart from the nodes'
CLUSTER_MGMT_ADDRESS = "127.0.1.1"


class NetAppCli:
    """The ONTAP commands Delfin's driver runs, answered from the array's inventory."""

    def __init__(self, array: SimArray) -> None:
        self.m = NetAppModel(array)
        self.a = array

    @staticmethod
    def busy() -> bytes:
        """The CLI's answer while the array is throttling (the simulator's own wording, in the
        form of ONTAP's CLI errors)."""
        return b"Error: command failed: The cluster is busy. Try the command again later.\r\n"

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        argv = command_words(command)
        found = find_view(VIEWS, argv)
        if found:
            view, args = found
            return EXIT_OK, view(self, args).encode(), b""
        text = " ".join(argv)
        return EXIT_OK, f'Error: "{argv[0] if argv else text}" is not a recognized command\r\n'.encode(), b""

    # -- system ------------------------------------------------------------------------------
    def identity(self, args: list[str]) -> str:
        s = self.a.inv.storage
        return _records([{"Cluster UUID": f"uuid-{s['serial_number']}", "Cluster Name": self.m.cluster,
                          "Cluster Serial Number": s["serial_number"], "Cluster Location": s["location"],
                          "Cluster Contact": ""}])

    def version(self, args: list[str]) -> str:
        return RELEASE + "\r\n"

    def health(self, args: list[str]) -> str:
        return _table("Status", [["ok" if self.a.inv.storage["status"] == "normal" else "degraded"]])

    def nodes(self, args: list[str]) -> str:
        return _records([{"Node": self.m.node_of(c["native_controller_id"]), "Owner": "", "Location": c["location"],
                          "Model": self.a.inv.storage["model"], "Serial Number": f"SN{c['native_controller_id']}",
                          "System ID": c["native_controller_id"], "Vendor": "NetApp",
                          "Health": "true" if c["status"] == "normal" else "false", "Eligibility": "true"}
                         for c in self.a.inv.controllers])

    def cluster_ip(self, args: list[str]) -> str:
        return _table("vserver lif address", [[self.m.cluster, "cluster_mgmt", CLUSTER_MGMT_ADDRESS]])

    def node_ips(self, args: list[str]) -> str:
        return _table("vserver lif curr-node address",
                      [[self.m.cluster, f"{node}_mgmt1", node, c["mgmt_ip"]]
                       for c in self.a.inv.controllers for node in [self.m.node_of(c["native_controller_id"])]])

    # -- pools, volumes, disks ---------------------------------------------------------------
    def aggregates(self, args: list[str]) -> str:
        return _records([{"Aggregate": p["name"], "Storage Type": "hdd", "UUID String": p["native_storage_pool_id"],
                          "State": "online" if p["status"] == "normal" else "offline", "Size": p["total_capacity"],
                          "Used Size": p["used_capacity"], "Available Size": p["free_capacity"]}
                         for p in self.a.inv.pools])

    def storage_pools(self, args: list[str]) -> str:
        return NO_ENTRIES                    # no Flash Pool storage pools: the aggregates are the pools

    def volumes(self, args: list[str]) -> str:
        return _records([{"Vserver Name": VSERVER, "Volume Name": f["name"], "Aggregate Name": f["pool"]["name"],
                          "Volume Size": f["size"], "Available Size": f["size"] - f["used"], "Volume State": "online",
                          "Junction Path": f["junction"], "Security Style": f["security"],
                          "Space Saved by Deduplication": "0B" if i % 2 else f"{f['used'] // 10}",
                          "Volume Contains Shared or Compressed Data": "true" if i % 2 else "false",
                          "SnapLock Type": "non-snaplock"} for i, f in enumerate(self.m.fs)])

    def thin_volumes(self, args: list[str]) -> str:
        return _table("Vserver Volume Aggregate State Type Size Available Used%",
                      [[VSERVER, f["name"], f["pool"]["name"], "online", "RW", f["size"], f["size"] - f["used"], "0%"]
                       for f in self.m.fs])

    def luns(self, args: list[str]) -> str:
        rows = []
        for v in self.a.inv.volumes:
            fs = self.m.fs_of_pool.get(v["native_storage_pool_id"])
            rows.append({"Vserver Name": VSERVER, "LUN Path": f"/vol/{fs['name'] if fs else '-'}/{v['name']}",
                         "Volume Name": fs["name"] if fs else "-", "Qtree Name": '""', "LUN Name": v["name"],
                         "LUN Size": v["total_capacity"], "OS Type": "linux", "Serial Number": v["native_volume_id"],
                         "Serial Number (Hex)": v["wwn"][-24:], "Space Allocation":
                             "enabled" if v["type"] == "thin" else "disabled",
                         "State": "online" if v["status"] == "available" else "offline",
                         "LUN UUID": f"lun-{v['native_volume_id']}", "Used Size": v["used_capacity"]})
        return _records(rows)

    def disks(self, args: list[str]) -> str:
        inv = self.a.inv
        pools = inv.pools
        if args == ["-physical"]:
            return _table("Disk Type Vendor Model Revision RPM BPS",
                          [[d["native_disk_id"], d["physical_type"].upper(), "NETAPP", d["model"], d["firmware"],
                            d["speed"], 520] for d in inv.disks])
        return _records([{"Disk": d["native_disk_id"], "Container Type": "aggregate" if pools else "spare",
                          "Aggregate": pools[i % len(pools)]["name"] if pools else "-", "Vendor": d["manufacturer"],
                          "Model": d["model"], "Serial Number": d["serial_number"], "Physical Size": d["capacity"]}
                         for i, d in enumerate(inv.disks)])

    def disk_errors(self, args: list[str]) -> str:
        return _table("Disk Error-Type Error-Description",
                      [[d["native_disk_id"], "diskfail", "failed"] for d in self.a.inv.disks if d["status"] != "normal"])

    # -- ports -------------------------------------------------------------------------------
    def eth_ports(self, args: list[str]) -> str:
        return _records([{"Node": self.m.node_of(p["native_parent_id"]), "Port": p["native_port_id"],
                          "Link": "up" if p["connection_status"] == "connected" else "down", "MTU": 1500,
                          "Port Type": "physical", "Port Health Status": "healthy",
                          "Speed Operational": p["speed"] // 10 ** 6, "MAC Address": f"00:a0:98:00:00:{i:02x}"}
                         for i, p in enumerate(self.a.inv.ports) if p["type"] != "fc"])

    def fc_ports(self, args: list[str]) -> str:
        return _records([{"Node": self.m.node_of(p["native_parent_id"]), "Adapter": p["native_port_id"],
                          "Physical Protocol": "fibre-channel",
                          "Administrative Status": "up" if p["connection_status"] == "connected" else "down",
                          "Operational Status": "online", "Data Link Rate (Gbit)": p["speed"] // 10 ** 9,
                          "Maximum Speed": p["max_speed"] // 10 ** 9, "Adapter WWPN": p["wwn"]}
                         for p in self.a.inv.ports if p["type"] == "fc"])

    # -- file resources ----------------------------------------------------------------------
    def qtrees(self, args: list[str]) -> str:
        return _records([{"Vserver Name": VSERVER, "Volume Name": f["name"], "Qtree Name": name,
                          "Security Style": f["security"], "Oplock Mode": "enable", "Export Policy": "default"}
                         for f in self.m.fs for name in ('""', f"qt_{f['name']}")])

    def protocols(self, args: list[str]) -> str:
        return _table("vserver allowed-protocols", [[VSERVER, "nfs,cifs,fcp,iscsi,ndmp"]])

    def vservers(self, args: list[str]) -> str:
        return _table("Vserver Type Subtype Admin-State Operational-State Root-Volume Aggregate",
                      [[VSERVER, "data", "default", "running", "running", "svm1_root", self.m.fs[0]["pool"]["name"]
                        if self.m.fs else "-"]])

    def cifs_shares(self, args: list[str]) -> str:
        if args[:1] != ["-instance"] or args[1:2] != ["-vserver"] or args[2:3] != [VSERVER]:
            return NO_ENTRIES
        return _records([{"Vserver": VSERVER, "Share": f"share_{f['name']}", "CIFS Server NetBIOS Name": "SVM1",
                          "Path": f["junction"], "Volume Name": f["name"]} for f in self.m.fs])

    def nfs_exports(self, args: list[str]) -> str:
        return _records([{"Vserver Name": VSERVER, "Volume Name": f["name"], "Junction Path": f["junction"]}
                         for f in self.m.fs])

    def quotas(self, args: list[str]) -> str:
        rows = []
        for f in self.m.fs:
            common = {"Vserver": VSERVER, "Policy Name": "default", "Volume Name": f["name"]}
            rows.append({**common, "Type": "tree", "Target": f"qt_{f['name']}", "Qtree Name": '""',
                         "Disk Limit": f["size"] // 10, "Files Limit": 10000, "Soft Disk Limit": f["size"] // 20,
                         "Soft Files Limit": 8000})
            rows.append({**common, "Type": "user", "Target": "root", "Qtree Name": '""', "Disk Limit": "-",
                         "Files Limit": "-", "Soft Disk Limit": "-", "Soft Files Limit": "-"})
        return _records(rows)

    # -- alerts ------------------------------------------------------------------------------
    def alerts(self, args: list[str]) -> str:
        return _records(self.m.alerts())

    def delete_alert(self, args: list[str]) -> str:
        unknown = [a for a in args if a.startswith("-") and a not in ("-alerting-resource", "-alert-id", "-node")]
        if unknown or "-alert-id" not in args[:-1]:
            return f'Error: invalid argument "{(unknown or ["-alert-id"])[0]}"\r\n'
        alert = args[args.index("-alert-id") + 1]
        if alert not in {a["Alert ID"] for a in self.m.alerts()}:
            return f"Error: alert {alert} not found\r\n"
        with self.m.lock:
            self.m.deleted.add(alert)
        return ""


#: the commands by their leading words, longest first where one starts another
VIEWS: list[tuple[list[str], Callable[[NetAppCli, list[str]], str]]] = [
    (["cluster", "identity", "show"], NetAppCli.identity), (["version"], NetAppCli.version),
    (["system", "health", "status", "show"], NetAppCli.health),
    (["system", "health", "alert", "show"], NetAppCli.alerts),
    (["system", "health", "alert", "delete"], NetAppCli.delete_alert),
    (["node", "show"], NetAppCli.nodes), (["storage", "aggregate", "show"], NetAppCli.aggregates),
    (["storage", "pool", "show"], NetAppCli.storage_pools),
    (["vol", "show", "-space-guarantee", "none"], NetAppCli.thin_volumes), (["vol", "show"], NetAppCli.volumes),
    (["volume", "show", "-junction-active", "true"], NetAppCli.nfs_exports),
    (["volume", "quota", "policy", "rule", "show"], NetAppCli.quotas),
    (["lun", "show"], NetAppCli.luns), (["disk", "error", "show"], NetAppCli.disk_errors),
    (["disk", "show"], NetAppCli.disks), (["network", "port", "show"], NetAppCli.eth_ports),
    (["fcp", "adapter", "show"], NetAppCli.fc_ports),
    (["network", "interface", "show", "-fields", "curr-node,address"], NetAppCli.node_ips),
    (["network", "interface", "show", "-fields", "address", "-role", "cluster-mgmt"], NetAppCli.cluster_ip),
    (["qtree", "show"], NetAppCli.qtrees), (["vserver", "show", "-fields"], NetAppCli.protocols),
    (["vserver", "show", "-type", "data"], NetAppCli.vservers),
    (["vserver", "cifs", "share", "show"], NetAppCli.cifs_shares),
]

#: ONTAP's counters ({read, write, total}) -> our metrics, per counter
COUNTERS = {"iops": ("readIops", "writeIops", "iops"), "throughput": ("readThroughput", "writeThroughput", "throughput"),
            "latency": (None, None, "responseTime")}
#: how ONTAP states each of our units: bytes/s for MB/s, microseconds for ms
SCALE = {"iops": 1, "throughput": MiB, "latency": 1000}


class NetAppRestHandler(ModelHandler):
    GARBAGE = b"{\"records\": [<<garbage"

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        m: NetAppModel = self.server.context  # type: ignore[attr-defined]
        self.authenticate(*self.basic_auth())
        if method != "GET" or parts[:1] != ["api"]:
            raise HttpError(404, "not found")
        path = parts[1:]
        listing = LISTS.get(tuple(path))
        if listing is not None:
            return 200, {"records": listing(m), "num_records": len(listing(m))}
        if path[-1:] == ["metrics"]:
            found = _perf_object(m, path[:-1])
            if found is None:
                raise HttpError(404, f"no {'/'.join(path[:-1])}")
            return 200, {"records": _samples(m, *found), "num_records": 0}
        raise HttpError(404, "not found")


def _fc(m: NetAppModel) -> list[dict]:
    return [{"uuid": f"fc-{p['native_port_id']}", "name": p["native_port_id"],
             "node": {"name": m.node_of(p["native_parent_id"])}} for p in m.a.inv.ports if p["type"] == "fc"]


def _eth(m: NetAppModel) -> list[dict]:
    return [{"uuid": f"eth-{p['native_port_id']}", "name": p["native_port_id"],
             "node": {"name": m.node_of(p["native_parent_id"])}} for p in m.a.inv.ports if p["type"] != "fc"]


def _volumes(m: NetAppModel) -> list[dict]:
    return [{"uuid": f["uuid"], "name": f["name"], "svm": {"name": VSERVER}} for f in m.fs]


LISTS: dict[tuple[str, ...], Callable[[NetAppModel], list[dict]]] = {
    ("network", "fc", "ports"): _fc, ("network", "ethernet", "ports"): _eth, ("storage", "volumes"): _volumes}


def _perf_object(m: NetAppModel, path: list[str]) -> Optional[tuple[str, str, tuple[str, ...]]]:
    """(our resource type, our resource id, the counters it has) of a metrics URL's object."""
    inv = m.a.inv
    if path == ["cluster"]:
        return "storage", inv.storage["serial_number"], ("iops", "throughput", "latency")
    kind, uuid = "/".join(path[:-1]), path[-1] if path else ""
    found: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
        "storage/aggregates": ("storagePool", [p["native_storage_pool_id"] for p in inv.pools],
                               ("iops", "throughput", "latency")),
        "storage/luns": ("volume", [f"lun-{v['native_volume_id']}" for v in inv.volumes],
                         ("iops", "throughput", "latency")),
        "storage/volumes": ("filesystem", [f["uuid"] for f in m.fs], ("iops", "throughput")),
        "network/fc/ports": ("port", [p["uuid"] for p in _fc(m)], ("iops", "throughput", "latency")),
        "network/ethernet/ports": ("port", [p["uuid"] for p in _eth(m)], ("throughput",))}
    if kind not in found or uuid not in found[kind][1]:
        return None
    rtype, _, counters = found[kind]
    ours = {"storage/luns": uuid.removeprefix("lun-"), "network/fc/ports": uuid.removeprefix("fc-"),
            "network/ethernet/ports": uuid.removeprefix("eth-")}.get(kind, uuid)
    return rtype, ours, counters


def _samples(m: NetAppModel, rtype: str, rid: str, counters: tuple[str, ...]) -> list[dict[str, Any]]:
    """The last hour of samples of one object, newest first, as ONTAP's ``interval=1h`` answers."""
    now_ms = int(time.time() * 1000)
    ts = perfgen.sample_times(now_ms - 3_600_000, now_ms + 1, m.a.cfg.perf_interval)
    names = [n for c in counters for n in COUNTERS[c] if n]
    values = perfgen.series_values(m.a.cfg.seed, rtype, [rid], names, ts).reshape(len(names), len(ts))
    series = dict(zip(names, values))
    records = []
    for k in range(len(ts) - 1, -1, -1):
        record: dict[str, Any] = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts[k]) // 1000)),
                                  "status": "ok", "duration": "PT15S"}
        for counter in counters:
            read, write, total = (int(round(float(series[n][k]) * SCALE[counter])) if n else 0
                                  for n in COUNTERS[counter])
            record[counter] = {"read": read, "write": write, "other": 0, "total": total}
        records.append(record)
    return records


def netapp_value(metric: str, value: float) -> float:
    """What Delfin's driver makes of the value the simulator sends for ``value`` of ``metric``
    (iops as whole numbers, throughput in bytes/s and latency in microseconds, read back)."""
    counter = next(c for c, names in COUNTERS.items() if metric in names)
    sent = int(round(value * SCALE[counter]))
    return float(sent) if counter == "iops" else round(sent / SCALE[counter], 3)
