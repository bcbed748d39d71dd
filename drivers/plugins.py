"""Driver lookup by entry point, name ``"<vendor> <model>"``: ours (group ``delfin_dm.drivers``)
first, then SODA Delfin's vendor drivers (group ``delfin.storage.drivers``, run through
``delfin_host``). Ours win a name clash.

The registry is plain data (entry points); a driver module is imported only when asked for,
and Delfin only when one of its drivers is.
"""
from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

from .errors import StorageDriverNotFound

ENTRY_POINT_GROUP = "delfin_dm.drivers"


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _delfin_names() -> set[str]:
    from .delfin_host import delfin_entry_points   # imports no Delfin module
    return set(delfin_entry_points())


def available_drivers() -> list[str]:
    """``"<vendor> <model>"`` of every driver that can be registered (ours and Delfin's)."""
    return sorted(set(_entry_points()) | _delfin_names())


def driver_catalog() -> list[dict[str, Any]]:
    """Every installed driver with its origin: ``delfin_dm`` (ours, and where it comes from),
    or ``delfin`` (Delfin's, run unchanged); a Delfin driver that one of ours shadows is listed
    with ``shadowed_by``."""
    from .delfin_host import delfin_entry_points
    ours, theirs = _entry_points(), delfin_entry_points()
    rows = [{"name": n, "vendor": n.partition(" ")[0], "model": n.partition(" ")[2], "origin": "delfin_dm",
             "module": ep.value} for n, ep in ours.items()]
    rows += [{"name": n, "vendor": n.partition(" ")[0], "model": n.partition(" ")[2], "origin": "delfin",
              "module": ep.value, **({"shadowed_by": "delfin_dm"} if n in ours else {})}
             for n, ep in theirs.items()]
    return sorted(rows, key=lambda r: (r["name"], r["origin"] != "delfin_dm"))


def load_driver_class(vendor: str, model: str) -> type:
    """Return the driver class or raise StorageDriverNotFound."""
    key = f"{vendor} {model}"
    ep = _entry_points().get(key)
    if ep is not None:
        try:
            return ep.load()
        except (ImportError, AttributeError) as exc:
            raise StorageDriverNotFound(key) from exc
    if key in _delfin_names():
        from .delfin_host import host_class
        return host_class(key)
    raise StorageDriverNotFound(key)
