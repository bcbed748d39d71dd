"""A Fujitsu ETERNUS DX command line (CLI) over SSH, as Delfin's ``fujitsu eternus`` driver reads
it: an interactive shell (``invoke_shell``) per command, the command typed, then ``exit``, and
whatever the terminal holds read back.

The CLI prompts ``CLI> ``, echoes each line typed and answers it; it answers an error as
``Error: <text>`` and a command it does not know with a caret under the line and ``Error:
Ambiguous command`` (as in Delfin's recorded replies). Commands: ``show status``, ``show
storage-system-name``, ``show enclosure-status [-type all]``, ``show fru-ce``, ``show raid-groups
-csv``, ``show volumes -csv``, ``show volumes -type tpv``, ``show disks -disk all``, ``show
fc-parameters``, ``show events -severity|-level warning|error``.

From the array's inventory (``SimArray``): a controller module (``CM#n``) per controller, a RAID
group per pool (numbered in order), a volume per volume (``Standard`` when thick, ``TPV`` when
thin, in its pool's RAID group), a disk per disk, an FC port per FC port (``CM#n CA#0 Port#m``,
spread over the modules in turn), and an event per FC port whose link is down (Warning) and per
disk not normal (Error), all opened when the array started (``alerts_opened``).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .array import SimArray
from .ssh_server import Answer, command_words, find_view

EXIT_OK, EXIT_FAIL = 0, 1
MiB, GiB = 2 ** 20, 2 ** 30
PROMPT = "CLI> "
#: the status words the CLI shows for the inventory's (others: a volume Broken, a disk Failed Usable)
VOLUME_STATUS = {"available": "Available", "normal": "Available", "offline": "Not Available"}
POOL_STATUS = {"normal": "Available", "offline": "Broken"}
DISK_STATUS = {"normal": "Available", "offline": "Not Exist"}
DISK_TYPE = {"ssd": "2.5 SSD-M", "sas": "2.5 Online", "nl_sas": "3.5 Nearline", "sata": "3.5 Nearline"}
#: event codes (the simulator's: an FC link down, a disk failed)
LINK_DOWN, DISK_FAILED = "23000001", "85400001"


def _field(label: str, value: Any, width: int = 26) -> str:
    """One ``Label   [value]`` line of a detail view."""
    return f" {label:<{width}}[{value}]"


class EternusModel:
    """The storage system as its CLI shows it, derived from the array's inventory."""

    def __init__(self, array: SimArray) -> None:
        self.a = array
        inv = array.inv
        self.cms = [f"CM#{i}" for i in range(max(1, len(inv.controllers)))]
        self.fc = [p for p in inv.ports if p["type"] == "fc"]
        self.pool_no = {p["native_storage_pool_id"]: n for n, p in enumerate(inv.pools)}

    def port_name(self, k: int) -> str:
        """The k-th FC port's name: the modules in turn, one channel adapter each."""
        return f"{self.cms[k % len(self.cms)]} CA#0 Port#{k // len(self.cms)}"

    def events(self) -> list[dict[str, Any]]:
        opened = self.a.alerts_opened
        rows = [{"severity": "Warning", "code": LINK_DOWN, "time": opened,
                 "text": f"FC Link Down ({self.port_name(k)}) <{p['wwn'].replace(':', '').upper()}>"}
                for k, p in enumerate(self.fc) if p["connection_status"] != "connected"]
        rows += [{"severity": "Error", "code": DISK_FAILED, "time": opened,
                  "text": f"Disk CE-Disk#{i} Fault (CE) <{d['model']} {d['serial_number']}>"}
                 for i, d in enumerate(self.a.inv.disks) if d["status"] != "normal"]
        return rows


class EternusShell:
    """One CLI session (the CLI keeps no state between commands)."""

    def __init__(self, model: EternusModel) -> None:
        self.m = model

    def greeting(self) -> str:
        return ""

    def prompt(self) -> str:
        return PROMPT

    def run(self, command: str) -> Answer:
        found = find_view(VIEWS, command_words(command))
        if found is None:
            return EXIT_FAIL, b"", f"{' ' * (len(PROMPT) + len(command))}^\nError: Ambiguous command\n".encode()
        view, args = found
        if args:
            return EXIT_FAIL, b"", f"Error: E0331 Parameter is not valid. [{' '.join(args)}]\n".encode()
        return EXIT_OK, view(self.m).encode(), b""


# -- the system ------------------------------------------------------------------------------
def status(m: EternusModel) -> str:
    return f"Summary Status  [{'Normal' if m.a.inv.storage['status'] == 'normal' else 'Error'}]\n"


def system_name(m: EternusModel) -> str:
    s = m.a.inv.storage
    return (f"Name              [{s['name']}]\nInstallation Site [{s['location']}]\nContact           []\n"
            f"Description       [{s['description']}]\n")


def enclosure(m: EternusModel) -> str:
    s = m.a.inv.storage
    return "\n".join(["Enclosure View", _field("Storage System Name", s["name"], 34),
                      _field("Model Name", s["model"], 34), _field("Serial Number", s["serial_number"], 34),
                      _field("Status", "Normal" if s["status"] == "normal" else "Error", 34),
                      _field("Cache Mode", "Write Back Mode", 34),
                      _field("CLI Connecting Controller Module", m.cms[0], 34),
                      _field("Firmware Version", s["firmware_version"], 34), ""]) + "\n"


def enclosure_all(m: EternusModel) -> str:
    lines = ["Controller Enclosure Status", " Controller Module Status/Status Code"]
    lines += [f"  {cm:<12} [{'Normal      / 0xE001' if c['status'] == 'normal' else 'Error       / 0x0001'}]"
              for cm, c in zip(m.cms, m.a.inv.controllers)]
    return "\n".join(lines) + "\n"


def fru_ce(m: EternusModel) -> str:
    """Each controller module, then its FC ports (status, link and WWN)."""
    out: list[str] = []
    for i, (cm, c) in enumerate(zip(m.cms, m.a.inv.controllers)):
        out += [f"{cm} Information", _field("CPU Status/Status Code", "Normal      / 0xE001"),
                _field("Memory Size", f"{c['memory_size'] / GiB:.1f}GB"),
                _field("Serial Number", f"WK{c['native_controller_id'].upper()}"),
                _field("Hard Revision", "AA"), _field("CPU Clock", c["cpu_info"])]
        for k, p in enumerate(m.fc):
            if k % len(m.cms) != i:
                continue
            up = p["connection_status"] == "connected"
            health = "Normal      / 0xE001" if p["health_status"] == "normal" else "Error       / 0x0001"
            out += [f"{m.port_name(k)} Information", _field("Port Type", "FC", 20), _field("Port Mode", "CA", 20),
                    _field("Status/Status Code", health, 20) + " (Error Code : 0x0000)",
                    _field("Link Status", f"{p['speed'] // 10 ** 9}Gbit/s Link Up" if up else "Link Down", 20),
                    _field("Port WWN", p["wwn"].replace(":", "").upper(), 20),
                    _field("Node WWN", p["wwn"].replace(":", "").upper()[:-2] + "FF", 20)]
    return "\n".join(out) + "\n"


# -- capacity -------------------------------------------------------------------------------
def raid_groups(m: EternusModel) -> str:
    rows = ["[RAID Group No.],[RAID Group Name],[RAID Level],[Assigned CM],[Status],"
            "[Total Capacity(MB)],[Free Capacity(MB)]"]
    rows += [f"{n},{p['name']},RAID5,{m.cms[n % len(m.cms)]},{POOL_STATUS.get(p['status'], 'Broken')},"
             f"{p['total_capacity'] // MiB},{p['free_capacity'] // MiB}" for n, p in enumerate(m.a.inv.pools)]
    return "\n".join(rows) + "\n"


def volumes(m: EternusModel) -> str:
    rows = ["[Volume No.],[Volume Name],[Status],[Type],[RG or TPP or FTRP No.],[RG or TPP or FTRP Name],"
            "[Size(MB)],[Copy Protection]"]
    pools = m.a.inv.pools
    for n, v in enumerate(m.a.inv.volumes):
        no = m.pool_no.get(v["native_storage_pool_id"], 0)
        rows.append(f"{n},{v['name']},{VOLUME_STATUS.get(v['status'], 'Broken')},"
                    f"{'TPV' if v['type'] == 'thin' else 'Standard'},{no},{pools[no]['name'] if pools else '-'},"
                    f"{v['total_capacity'] // MiB},Disable")
    return "\n".join(rows) + "\n"


def thin_volumes(m: EternusModel) -> str:
    """The thin provisioning volumes: allocation and used capacity (MB) in the last columns."""
    head = ["Volume                                 Status    TPP          TFOG        Size(MB)  Copy",
            "No.   Name                                       No. Name     No. Name              Protection "
            "Allocation  Status  Used(%) Threshold(%) Level Used Capacity(MB)",
            "----- -------------------------------- --------- --- -------- --- -------- --------- ---------- "
            "----------  ------  ------- ------------ ----- -----------------"]
    pools = m.a.inv.pools
    rows = []
    for n, v in enumerate(m.a.inv.volumes):
        if v["type"] != "thin":
            continue
        no = m.pool_no.get(v["native_storage_pool_id"], 0)
        rows.append(f"{n:>5} {v['name']:<32} {VOLUME_STATUS.get(v['status'], 'Broken'):<9} {no:>3} "
                    f"{pools[no]['name'] if pools else '-'} - - {v['total_capacity'] // MiB} Disable  Thin  "
                    f"Normal - 80 High {v['used_capacity'] // MiB}")
    return "\n".join(head + rows) + "\n"


def disks(m: EternusModel) -> str:
    pools = m.a.inv.pools
    blocks = []
    for i, d in enumerate(m.a.inv.disks):          # the pools' RAID groups take the disks in turn
        rg = f" {i % len(pools)} : {pools[i % len(pools)]['name']}" if pools else "-"
        blocks.append("\n".join([
            f"Controller Enclosure Disk #{i} Information", _field("Location", f"CE-Disk#{i}"),
            _field("Status", DISK_STATUS.get(d["status"], "Failed Usable")) + " (Error Code : 0x0000)",
            _field("Size", f"{d['capacity'] // GiB}GB"), _field("Type", DISK_TYPE.get(d["physical_type"], "2.5 Online")),
            _field("Speed", f"{d['speed']}rpm" if d.get("speed") else "-"),
            _field("Usage", "Data" if d["logical_type"] == "member" else "Spare"), _field("RAID Group", rg),
            _field("Motor Status", "Active"), _field("Vendor ID", d["manufacturer"]),
            _field("Product ID", d["model"]), _field("Serial Number", d["serial_number"]),
            _field("WWN", f"5000C500{i:08X}"), _field("Firmware Revision", d["firmware"])]))
    return "\n\n".join(blocks) + "\n"


def fc_parameters(m: EternusModel) -> str:
    """The FC ports' parameters, two ports per table, one column per port."""
    tables = []
    for start in range(0, len(m.fc), 2):
        ks = range(start, min(start + 2, len(m.fc)))
        cols = {"Port": [m.port_name(k) for k in ks], "Port Mode": ["CA"] * len(ks),
                "Connection": ["Fabric"] * len(ks),
                "Transfer Rate": [f"{m.fc[k]['speed'] // 10 ** 9} Gbit/s" for k in ks],
                "Frame Size": ["2048 bytes"] * len(ks), "Host Affinity": ["Disable"] * len(ks),
                "WWN Mode": ["Custom"] * len(ks), "WWPN": [m.fc[k]["wwn"].replace(":", "").upper() for k in ks]}
        tables.append("\n".join(f"{label:<30}" + "".join(f"{v:<23}" for v in values).rstrip()
                                for label, values in cols.items()))
    return "\n\n".join(tables) + "\n"


def events(m: EternusModel, severity: str) -> str:
    return "".join(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['time']))}   {e['severity']:<14}"
                   f"P {e['code']:<8}  {e['text']}\n" for e in m.events() if e["severity"].lower() == severity)


#: the commands by their words, longest first where one starts another
VIEWS: list[tuple[list[str], Callable[[EternusModel], str]]] = [
    (["show", "status"], status), (["show", "storage-system-name"], system_name),
    (["show", "enclosure-status", "-type", "all"], enclosure_all), (["show", "enclosure-status"], enclosure),
    (["show", "fru-ce"], fru_ce), (["show", "raid-groups", "-csv"], raid_groups),
    (["show", "volumes", "-csv"], volumes), (["show", "volumes", "-type", "tpv"], thin_volumes),
    (["show", "disks", "-disk", "all"], disks), (["show", "fc-parameters"], fc_parameters),
    *((["show", "events", option, level], lambda m, level=level: events(m, level))
      for option in ("-severity", "-level") for level in ("warning", "error")),
]


class EternusCli:
    """The CLI: an interactive shell per channel (``open_shell``), the way Delfin's driver uses
    it; a command on an exec channel is answered the same way."""

    def __init__(self, array: SimArray) -> None:
        self.m = EternusModel(array)

    def open_shell(self) -> EternusShell:
        return EternusShell(self.m)

    @staticmethod
    def busy() -> bytes:
        """The CLI's answer while the array is throttling (the simulator's own wording, in the
        CLI's ``Error:`` form)."""
        return b"Error: E0019 The system is busy. Try again later.\n"

    def run(self, command: str) -> Answer:
        return EternusShell(self.m).run(command)
