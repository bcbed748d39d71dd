"""Driver lookup by entry point (group ``delfin_dm.drivers``, name ``"<vendor> <model>"``).

The registry is plain data (entry points); a driver module is imported only when asked for.
"""
from __future__ import annotations

import functools
from importlib.metadata import entry_points

from .errors import StorageDriverNotFound

ENTRY_POINT_GROUP = "delfin_dm.drivers"


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_drivers() -> list[str]:
    """``"<vendor> <model>"`` of every installed driver."""
    return sorted(_entry_points())


def load_driver_class(vendor: str, model: str) -> type:
    """Return the driver class or raise StorageDriverNotFound."""
    key = f"{vendor} {model}"
    ep = _entry_points().get(key)
    if ep is None:
        raise StorageDriverNotFound(key)
    try:
        return ep.load()
    except (ImportError, AttributeError) as exc:
        raise StorageDriverNotFound(key) from exc
