"""Which samples of a real-time driver's answer are new.

A driver that is not historic (Delfin's OceanStor) answers the array's latest sample of each
object, stamped on the array's clock at or after the window's end, one object after the other: a
collection can cross one of the array's sampling times, so objects of one answer carry different
timestamps. A sample is new when it is newer than the newest written of its own series (resource
type, id, metric); a global "newest written" would drop an object's next sample when an earlier
object of the previous answer already had that timestamp.
"""
from __future__ import annotations

from typing import Callable, Optional

import pyarrow as pa
import pyarrow.compute as pc

_SEP = "\x1f"


class NewSamples:
    """Per series, the newest sample written by this process; below that, ``floor()`` (read once:
    the newest point of the storage's dataset, so a restarted actor does not write again what the
    one before it wrote)."""

    def __init__(self, floor: Callable[[], Optional[int]]) -> None:
        self._read_floor = floor
        self._floor: Optional[int] = None
        self._last: dict[str, int] = {}

    def keep(self, table: pa.Table) -> pa.Table:
        """The rows of ``table`` (METRIC_SCHEMA) not written before, each sample once."""
        if self._floor is None:
            self._floor = self._read_floor() or -1
        if not table.num_rows:
            return table
        keys = pc.binary_join_element_wise(*(table.column(c).cast(pa.string())
                                             for c in ("resource_type", "resource_id", "metric")), _SEP)
        last, floor, mask = self._last, self._floor, []
        for key, ts in zip(keys.to_pylist(), table.column("timestamp").cast(pa.int64()).to_pylist()):
            new = ts > last.get(key, floor)
            if new:
                last[key] = ts
            mask.append(new)
        return table.filter(pa.array(mask, pa.bool_()))
