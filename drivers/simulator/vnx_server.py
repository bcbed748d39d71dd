"""A Dell EMC VNX block storage system as Delfin's ``dellemc vnx_block`` driver reads it: through
``naviseccli``, one process per command, each carrying the account (``-User -password -scope``)
to the storage processor's management server, which answers in Navisphere CLI's text.

The driver starts ``naviseccli`` itself, so a host that runs it needs that tool: the simulator's
stand-in is ``drivers/simulator/bin/naviseccli`` (stdlib Python), which sends each command here
over HTTPS and prints the answer as the real tool does:

    POST /navi  {"user", "password", "scope", "command": [words]}
                -> 200 {"output": "<the CLI's text>"}
                 | 401 {"error": "<the refusal>"} | 4xx/5xx {"error": "<the CLI's words>"}

Commands, as the driver's parsers read them (the shapes of Delfin's recorded replies):
``getagent``, ``domain -list``, ``storagepool -list``, ``getrg``, ``getdisk``, ``lun -list``,
``getall -lun``, ``getsp``, ``getresume -all``, ``port -list -sp -all``, ``backendbus -get
-all``, ``ioportconfig -list -iomodule basemodule -portstate -pportid``, ``connection
-getport``, ``ioportconfig -list -all``.

From the array's inventory (``SimArray``): a storage pool per pool but the last, which is a RAID
group (when there are two or more: a VNX has both); a LUN per volume (a pool LUN, thin or thick,
or a RAID group LUN, always thick); a storage processor (``SP A``, ``SP B``) per controller; a
disk per disk, 15 to an enclosure on bus 0; each FC port in I/O module slot 0 and each iSCSI port
in slot 1 of the storage processors in turn; and back-end SAS bus 0 on both processors' base
module. No session is held: every command is checked on its own (a failed one counts as a failed
login), counted in flight at the array with its faults.
"""
from __future__ import annotations

from typing import Any, Callable

from .array import SimArray
from .array_http import ModelHandler
from .http_base import HttpError
from .ssh_server import find_view

GiB, MiB = 2 ** 30, 2 ** 20
BLOCK = 512
DISKS_PER_ENCLOSURE = 15
#: the refusal a storage processor answers for a bad account (the words Delfin's driver looks for)
REFUSED = "Authentication failed: invalid username, password and/or scope"
#: the simulator's own wording, in the CLI's error form, while the array throttles
BUSY = "Error: The storage processor is busy processing other requests. Retry the command later."
LUN_STATE = {"available": "Ready", "normal": "Ready", "offline": "Offline"}
POOL_STATE = {"normal": "Ready", "offline": "Offline"}
DISK_STATE = {"normal": "Enabled", "offline": "Removed"}
DRIVE_TYPE = {"ssd": "SAS Flash", "sas": "SAS", "nl_sas": "NL SAS", "sata": "SATA"}
#: each port type's I/O module slot and type, and the speeds it lists
MODULES = {"fc": ("0", "Fibre Channel", ("4Gbps", "8Gbps", "16Gbps")), "iscsi": ("1", "iSCSI", ("1Gbps", "10Gbps"))}


def _lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def _uid(hex_digits: str) -> str:
    """A WWN as the CLI shows it: byte pairs, upper case, colon-separated."""
    digits = hex_digits.replace(":", "").upper()
    return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))


class VnxModel:
    """The storage system as its CLI shows it, derived from the array's inventory."""

    def __init__(self, array: SimArray) -> None:
        self.array = array
        inv = array.inv
        raid = 1 if len(inv.pools) > 1 else 0
        self.pools = inv.pools[:len(inv.pools) - raid]
        self.raid_groups = inv.pools[len(inv.pools) - raid:]
        self.pool_of = {p["native_storage_pool_id"]: p for p in self.pools}
        self.rg_of = {p["native_storage_pool_id"]: n for n, p in enumerate(self.raid_groups)}
        self.sps = [chr(ord("A") + i) for i in range(max(1, len(inv.controllers)))]
        self.ports: list[dict[str, Any]] = []            # each port with its SP, port id, slot and index
        per_sp: dict[str, int] = {}
        per_module: dict[tuple[str, str], int] = {}
        for k, p in enumerate(p for p in inv.ports if p["type"] in MODULES):
            sp = self.sps[k % len(self.sps)]
            slot = MODULES[p["type"]][0]
            self.ports.append({**p, "sp": sp, "sp_port_id": per_sp.get(sp, 0), "slot": slot,
                               "physical": per_module.get((sp, slot), 0), "k": k})
            per_sp[sp] = per_sp.get(sp, 0) + 1
            per_module[(sp, slot)] = per_module.get((sp, slot), 0) + 1

    def iqn(self, port: dict[str, Any]) -> str:
        return f"iqn.1992-04.com.emc:cx.{self.array.inv.storage['serial_number'].lower()}.{port['sp'].lower()}" \
               f"{port['sp_port_id']}"


# -- the system ------------------------------------------------------------------------------
def agent(m: VnxModel) -> str:
    s = m.array.inv.storage
    return _lines("Agent Rev:           7.33.1 (0.38)", "Name:                K10", "Desc:",
                  f"Revision:            {s['firmware_version']}", f"Model:               {m.array.cfg.model}",
                  f"Serial No:           {s['serial_number']}")


def domain(m: VnxModel) -> str:
    rows = [f"Node: {m.array.inv.storage['name']}"]
    for i, sp in enumerate(m.sps):
        rows += [f"IP Address: 127.0.0.{i + 1}", *(["(Master)"] if i == 0 else []),
                 f"Name: {m.array.inv.storage['name']}_SP{sp}", "Port: 80", "Secure Port: 443"]
    return _lines(*rows)


# -- capacity -------------------------------------------------------------------------------
def _gb(n: int) -> str:
    return f"{n / GiB:.3f}"


def storage_pools(m: VnxModel) -> str:
    return "\n".join(_lines(
        f"Pool Name:  {p['name']}", f"Pool ID:  {n}", f"Description:  {p['description'] or ''}",
        f"State:  {POOL_STATE.get(p['status'], 'Offline')}", "Status:  OK(0x0)",
        f"User Capacity (GBs):  {_gb(p['total_capacity'])}", f"Consumed Capacity (GBs):  {_gb(p['used_capacity'])}",
        f"Available Capacity (GBs):  {_gb(p['free_capacity'])}",
        f"Total Subscribed Capacity (GBs):  {_gb(p['subscribed_capacity'])}") for n, p in enumerate(m.pools))


def raid_groups(m: VnxModel) -> str:
    return "\n".join(_lines(
        f"RaidGroup ID:                              {n}",
        f"RaidGroup State:                           {'Valid_luns' if p['status'] == 'normal' else 'Invalid'}",
        f"Raw Capacity (Blocks):                     {p['total_capacity'] * 5 // 4 // BLOCK}",
        f"Logical Capacity (Blocks):                 {p['total_capacity'] // BLOCK}",
        f"Free Capacity (Blocks,non-contiguous):     {p['free_capacity'] // BLOCK}")
        for n, p in enumerate(m.raid_groups))


def pool_luns(m: VnxModel) -> str:
    return "\n".join(_lines(
        f"LOGICAL UNIT NUMBER {n}", f"Name:  {v['name']}", f"UID:  {_uid(v['wwn'])}",
        f"User Capacity (GBs):  {_gb(v['total_capacity'])}", f"Consumed Capacity (GBs):  {_gb(v['used_capacity'])}",
        f"Pool Name:  {m.pool_of[v['native_storage_pool_id']]['name']}",
        f"Current State:  {LUN_STATE.get(v['status'], 'Faulted')}", "Status:  OK(0x0)",
        f"Is Thin LUN:  {'Yes' if v['type'] == 'thin' else 'No'}",
        f"Is Compressed:  {'Yes' if v.get('compressed') else 'No'}")
        for n, v in enumerate(m.array.inv.volumes) if v["native_storage_pool_id"] in m.pool_of)


def all_luns(m: VnxModel) -> str:
    """Every LUN (a pool's too, its RAID group ``N/A``), as ``getall -lun`` lists them."""
    blocks = []
    for n, v in enumerate(m.array.inv.volumes):
        rg = m.rg_of.get(v["native_storage_pool_id"])
        blocks.append(_lines(
            f"LOGICAL UNIT NUMBER {n}", f"Name                        {v['name']}",
            f"UID:                        {_uid(v['wwn'])}",
            f"RAIDGroup ID:               {'N/A' if rg is None else rg}",
            f"State:                      {'Bound' if LUN_STATE.get(v['status']) == 'Ready' else 'Faulted'}",
            f"LUN Capacity(Megabytes):    {v['total_capacity'] // MiB}",
            f"Is Thin LUN:                {'YES' if rg is None and v['type'] == 'thin' else 'NO'}",
            "Is Meta LUN:                NO"))
    return "\n".join(blocks)


def disks(m: VnxModel) -> str:
    blocks = []
    for i, d in enumerate(m.array.inv.disks):
        rg = "0" if m.raid_groups and d["logical_type"] == "member" else "N/A"
        blocks.append(_lines(
            f"Bus 0 Enclosure {i // DISKS_PER_ENCLOSURE}  Disk {i % DISKS_PER_ENCLOSURE}",
            f"Vendor Id:               {d['manufacturer'].upper()}", f"Product Id:              {d['model']}",
            f"Product Revision:        {d['firmware']}", "Type:                    193: RAID5",
            f"State:                   {DISK_STATE.get(d['status'], 'Rebuilding')}",
            f"Hot Spare:               {'N/A' if d['logical_type'] != 'hotspare' else 'YES'}",
            f"Serial Number:           {d['serial_number']}", f"Capacity:                {d['capacity'] // MiB}",
            f"Raid Group ID:           {rg}", f"Drive Type:              {DRIVE_TYPE.get(d['physical_type'], 'SAS')}",
            "Current Speed: 6Gbps"))
    return "\n".join(blocks)


# -- storage processors ---------------------------------------------------------------------
def _sp_serial(m: VnxModel, i: int) -> str:
    return f"CF2Z{m.array.inv.storage['serial_number'][-8:]}{i:02d}"


def processors(m: VnxModel) -> str:
    out = [""]
    for i, (sp, c) in enumerate(zip(m.sps, m.array.inv.controllers)):
        peer = (i + 1) % len(m.sps)
        out += [f"SP {sp}", "", "Cabinet:             DPE9", f"Signature For The SP:          {3600400 + i}",
                f"Signature For The Peer SP:     {3600400 + peer}",
                f"Revision Number For The SP:    {c['soft_version']}",
                f"Serial Number For The SP:      {_sp_serial(m, i)}",
                f"Memory Size For The SP:        {c['memory_size'] // MiB}", "SP SCSI ID if Available:       0", ""]
    return _lines(*out)


def resume(m: VnxModel) -> str:
    return "\n".join(_lines(f"Storage Processor {sp}", "  CPU Module",
                            f"    EMC Serial Number:               {_sp_serial(m, i)}",
                            f"    Assembly Name:                   {c['cpu_info']}")
                     for i, (sp, c) in enumerate(zip(m.sps, m.array.inv.controllers)))


# -- ports ----------------------------------------------------------------------------------
def sp_ports(m: VnxModel) -> str:
    blocks = ["Information about each SPPORT:\n"]
    for p in m.ports:
        fc = p["type"] == "fc"
        mac = "Not Applicable" if fc else f"00:60:16:5C:{p['k'] // 256:02X}:{p['k'] % 256:02X}"
        blocks.append(_lines(
            f"SP Name:             SP {p['sp']}", f"SP Port ID:          {p['sp_port_id']}",
            f"SP UID:              {_uid(p['wwn'] * 2) if fc else m.iqn(p)}",
            f"Link Status:         {'Up' if p['connection_status'] == 'connected' else 'Down'}",
            f"Port Status:         {'Online' if p['health_status'] == 'normal' else 'Disabled'}",
            f"Speed Value :         {p['speed'] // 10 ** 9}Gbps", "Auto Negotiable :     YES", "Available Speeds:",
            *MODULES[p["type"]][2], "Auto", "Requested Value:      Auto", f"MAC Address:         {mac}",
            f"I/O Module Slot:     {p['slot']}", f"Physical Port ID:    {p['physical']}"))
    return "\n".join(blocks)


def iscsi_ports(m: VnxModel) -> str:
    return "\n".join(_lines(
        f"SP: {p['sp']}", f"Port ID: {p['sp_port_id']}", f"Port WWN: {m.iqn(p)}",
        f"iSCSI Alias: {m.array.inv.storage['serial_number'][-4:]}.{p['sp'].lower()}{p['sp_port_id']}",
        f"IP Address: 192.168.{p['k'] // 250}.{10 + p['k'] % 250}", "Subnet Mask: 255.255.255.0",
        f"Gateway Address: 192.168.{p['k'] // 250}.1", "Initiator Authentication: Not Available")
        for p in m.ports if p["type"] == "iscsi")


def io_modules(m: VnxModel) -> str:
    used = {(p["sp"], p["slot"], p["type"]) for p in m.ports}
    blocks = [_lines(f"SP ID :  {sp}", f"I/O Module Slot :  {slot}", f"I/O Module Type :  {MODULES[kind][1]}",
                     "I/O Module State :  Present") for sp, slot, kind in sorted(used)]
    blocks += [_lines(f"SP ID :  {sp}", "I/O Module Slot :  Base Module", "I/O Module Type :  SAS") for sp in m.sps]
    return "\n".join(blocks)


def backend_buses(m: VnxModel) -> str:
    return _lines("", "Bus 0", "", "Current Speed: 6Gbps.", "Available Speeds:", "              3Gbps.",
                  "              6Gbps.", "", *(f"SP{sp} SFP State: N/A" for sp in m.sps), "",
                  "I/O Module Slot: Base Module", "Physical Port ID: 0", "Port Combination In Use: No", "", "", "",
                  *(f"SP{sp} Connector State: None" for sp in m.sps), "")


def base_module_ports(m: VnxModel) -> str:
    out = []
    for sp in m.sps:
        out += [f"Information about each I/O module(s) on SP{sp}:", "", f"SP ID: {sp}",
                "I/O Module Slot: Base Module", "I/O Module Type: SAS", "I/O Module State: Present",
                "I/O Module Substate: Good", "I/O Module Power state: On", "I/O Carrier: No", "",
                "Information about each port on this I/O module:", "Physical Port ID: 0", "Port State: Enabled"]
    return _lines(*out)


#: the commands by their words, longest first where one starts another
VIEWS: list[tuple[list[str], Callable[[VnxModel], str]]] = [
    (["getagent"], agent), (["domain", "-list"], domain), (["storagepool", "-list"], storage_pools),
    (["getrg"], raid_groups), (["getdisk"], disks), (["lun", "-list"], pool_luns), (["getall", "-lun"], all_luns),
    (["getsp"], processors), (["getresume", "-all"], resume), (["port", "-list", "-sp", "-all"], sp_ports),
    (["backendbus", "-get", "-all"], backend_buses),
    (["ioportconfig", "-list", "-iomodule", "basemodule", "-portstate", "-pportid"], base_module_ports),
    (["connection", "-getport"], iscsi_ports), (["ioportconfig", "-list", "-all"], io_modules),
]


class VnxAgentHandler(ModelHandler):
    """The storage processor's management server, as the stand-in ``naviseccli`` reaches it."""

    GARBAGE = b"{\"output\": \"Pool Name:  <<garbage\"}"
    BUSY = BUSY

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        if (method, parts) != ("POST", ["navi"]):
            raise HttpError(404, "not found")
        body = self.body()
        self.authenticate(str(body.get("user")), str(body.get("password")), REFUSED)
        words = body.get("command")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise HttpError(400, "Error: no command given")
        found = find_view(VIEWS, words)
        if found is None or found[1]:
            raise HttpError(400, f"Error: {' '.join(words)}: Unrecognized option or command")
        return 200, {"output": found[0](self.server.context)}   # type: ignore[attr-defined]
