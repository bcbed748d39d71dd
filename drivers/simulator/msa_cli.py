"""An HPE MSA command line over SSH, answering in its XML API format: what Delfin's ``hpe msa``
driver runs. Each answer is the command echoed, the XML (``<RESPONSE>`` holding ``<OBJECT
basetype=...>`` elements of ``<PROPERTY name=...>`` values and a closing ``status`` object) and
the prompt, the first and last lines the driver drops.

    show system | show version | show pools | show volumes | show disks | show controllers
    show ports | show events error
Data come from the array's inventory (``SimArray``), so counts match the other simulators.
"""
from __future__ import annotations

from typing import Any, Callable
from xml.sax.saxutils import escape, quoteattr

from .array import SimArray
from .ssh_server import command_words

EXIT_OK = 0
GiB, TiB = 2 ** 30, 2 ** 40
BLOCK = 512


def _size(n: int) -> str:
    """MSA's size text: two decimals and a two-letter unit, which Delfin's driver reads as binary."""
    return f"{n / TiB:.2f}TB" if n >= TiB else f"{n / GiB:.2f}GB"


def _object(basetype: str, props: dict[str, Any], oid: int) -> str:
    inner = "".join(f"<PROPERTY name={quoteattr(k)} type=\"string\">{escape(str(v))}</PROPERTY>"
                    for k, v in props.items() if v is not None)
    return f"<OBJECT basetype={quoteattr(basetype)} name={quoteattr(basetype)} oid=\"{oid}\">{inner}</OBJECT>"


def _response(command: str, objects: list[tuple[str, dict[str, Any]]]) -> str:
    body = "".join(_object(b, p, i + 1) for i, (b, p) in enumerate(objects))
    status = _object("status", {"response-type": "Success", "response": "Command completed successfully.",
                                "return-code": 0}, len(objects) + 1)
    return (f"{command}\n<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
            f"<RESPONSE VERSION=\"L100\">\n{body}\n{status}\n</RESPONSE>\n# ")


def _health(status: str) -> str:
    return "OK" if status in ("normal", "available", "connected") else "Degraded"


class MsaCli:
    def __init__(self, array: SimArray) -> None:
        self.a = array

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        argv = command_words(command)
        view = VIEWS.get(" ".join(argv[:2])) if argv[:1] == ["show"] else None
        if view is None:
            return EXIT_OK, f"{command}\nError: The command is not recognized. (2021-01-01 00:00:00)\n# ".encode(), b""
        return EXIT_OK, _response(command, view(self.a)).encode(), b""


def _system(a: SimArray) -> list[tuple[str, dict]]:
    s = a.inv.storage
    return [("system", {"system-name": s["name"], "product-id": a.cfg.model, "midplane-serial-number":
                        s["serial_number"], "system-location": "lab", "health": _health(s["status"])})]


def _version(a: SimArray) -> list[tuple[str, dict]]:
    return [("versions", {"bundle-version": a.inv.storage["firmware_version"], "sc-fw": "IN100P001"})]


def _pools(a: SimArray) -> list[tuple[str, dict]]:
    return [("pools", {"name": p["name"], "serial-number": f"00c0ff{i:026x}", "health": _health(p["status"]),
                       "total-size": _size(p["total_capacity"]), "total-avail": _size(p["free_capacity"])})
            for i, p in enumerate(a.inv.pools)]


def _volumes(a: SimArray) -> list[tuple[str, dict]]:
    pools = {p["native_storage_pool_id"]: p["name"] for p in a.inv.pools}
    return [("volumes", {"volume-name": v["name"], "durable-id": f"V{i}", "virtual-disk-name":
                         pools.get(v["native_storage_pool_id"], ""), "health": _health(v["status"]),
                         "total-size": _size(v["total_capacity"]), "allocated-size": _size(v["used_capacity"]),
                         "blocks": v["total_capacity"] // BLOCK, "wwn": v["wwn"].upper(), "volume-type": "base"})
            for i, v in enumerate(a.inv.volumes)]


def _disks(a: SimArray) -> list[tuple[str, dict]]:
    return [("drives", {"location": f"1.{i + 1}", "disk-group": "dgA01", "serial-number": d["serial_number"],
                        "vendor": d["manufacturer"], "model": d["model"], "description": "SAS", "rpm": 10,
                        "size": _size(d["capacity"]), "health": _health(d["status"])})
            for i, d in enumerate(a.inv.disks)]


def _controllers(a: SimArray) -> list[tuple[str, dict]]:
    return [("controllers", {"controller-id": "AB"[i % 2], "durable-id": f"controller_{'ab'[i % 2]}",
                             "position": "Top" if i % 2 == 0 else "Bottom", "sc-fw": a.inv.storage["firmware_version"],
                             "sc-cpu-type": "Gladden 1300MHz", "system-memory-size": c["memory_size"] // 2 ** 20,
                             "health": _health(c["status"])})
            for i, c in enumerate(a.inv.controllers)]


def _ports(a: SimArray) -> list[tuple[str, dict]]:
    """Each port as the MSA lists it: its ``port`` object, then its protocol's detail object."""
    out: list[tuple[str, dict]] = []
    for i, p in enumerate(a.inv.ports):
        fc = p["type"] == "fc"
        out.append(("port", {"durable-id": f"hostport_{'AB'[i % 2]}{i // 2 + 1}", "port": f"{'AB'[i % 2]}{i // 2 + 1}",
                             "port-type": "FC" if fc else "iSCSI", "target-id": (p["wwn"] or "").replace(":", "")
                             if fc else None, "health": _health(p["connection_status"]),
                             "configured-speed": "16Gb" if fc else "10Gb"}))
        out.append(("fc-port" if fc else "iscsi-port",
                    {"configured-topology": "PTP"} if fc else
                    {"ip-address": f"127.0.5.{i + 1}", "mac-address": f"00:c0:ff:00:00:{i:02x}"}))
    return out


def _events(a: SimArray) -> list[tuple[str, dict]]:
    """An error event per port whose link is down (as the other simulated arrays)."""
    opened = a.alerts_opened
    return [("events", {"event-id": f"A{100 + i}", "event-code": "464", "severity": "ERROR",
                        "time-stamp-numeric": opened, "message": f"Port {p['name']} link down",
                        "additional-information": "The link is down."})
            for i, p in enumerate(a.inv.ports) if p["connection_status"] != "connected"]


VIEWS: dict[str, Callable[[SimArray], list[tuple[str, dict]]]] = {
    "show system": _system, "show version": _version, "show pools": _pools, "show volumes": _volumes,
    "show disks": _disks, "show controllers": _controllers, "show ports": _ports, "show events": _events}
