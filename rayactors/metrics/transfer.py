"""Arrow tables through Ray's object store at pyarrow's own pickling cost.

Ray installs a pure-Python reducer for ``pa.Table`` in every process
(``ray/_private/arrow_serialization.py``): it rebuilds every array from its buffers on both
sides, to work around ARROW-10739 (pickling an array-level slice sends its whole buffers; still
so in pyarrow 26). For our windows, which are built fresh and never slices, that costs about
1.3 ms of a 50k-point window's 4.7 ms and half of a 5M-point window's time from a storage actor to
its consumer (``python -m bench.transport``, with and without
``RAY_DISABLE_CUSTOM_ARROW_DATA_SERIALIZATION``).

``install`` replaces it in the calling process (a storage actor) with Ray's public
``register_serializer``: a table travels as its record batches, which pyarrow pickles natively
(buffers out of band, so a same-node ``ray.get`` stays zero-copy), and is rebuilt with
``pa.Table.from_batches``: a consumer needs pyarrow, nothing of ours. What ARROW-10739 is about
is kept out: a table that references much more than it holds (a slice) is compacted first
through Arrow IPC, which truncates buffers to the slice, and columns whose chunks do not line up
(record batches would be slices of them) are combined first. Not set cluster-wide: Ray Data,
which a notebook may run on the same cluster, slices tables all the time.

Windows a storage actor keeps (``recent_windows``) are **published**: put in the object store
once when collected (``publish``) and handed out by reference (``Published``), so every reader
maps the same object and the actor serializes nothing per call; ``resolve`` is the reader's
side. The objects belong to the actor: if it dies between its answer and the read, ``ray.get``
raises ``ObjectLostError`` and the caller asks again (the client does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pyarrow as pa

#: a table whose buffers exceed the bytes it references by more than this is treated as a slice
SLACK_RATIO = 1.25
SLACK_BYTES = 64 * 1024


def _compacted(table: pa.Table) -> pa.Table:
    """The same rows in buffers of their own size (an IPC write truncates sliced buffers)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.ipc.open_stream(sink.getvalue()).read_all()


def table_batches(table: pa.Table) -> list[pa.RecordBatch]:
    """What a table is sent as: record batches that are not array-level slices of anything
    bigger, at least one (an empty table keeps its schema)."""
    if table.get_total_buffer_size() > SLACK_RATIO * table.nbytes + SLACK_BYTES:
        table = _compacted(table)
    if len({tuple(len(chunk) for chunk in column.chunks) for column in table.columns}) > 1:
        table = table.combine_chunks()
    return table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]


def install() -> None:
    """Send ``pa.Table`` from this process as record batches (see the module's docstring)."""
    import ray.util
    ray.util.register_serializer(pa.Table, serializer=table_batches, deserializer=pa.Table.from_batches)


@dataclass(frozen=True)
class Published:
    """References to windows in the object store, oldest first (``ray.ObjectRef`` each)."""
    refs: tuple


def publish(table: pa.Table) -> Any:
    """Put a window in the object store once; the caller keeps the reference."""
    import ray
    return ray.put(table)


def resolve(value: Any, timeout: Optional[float] = None) -> Any:
    """A table from what ``recent_metrics`` answered: published windows are fetched (mapped on
    the same node) and concatenated; anything else is returned as it is."""
    if not isinstance(value, Published):
        return value
    import ray
    tables = ray.get(list(value.refs), timeout=timeout)
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables).unify_dictionaries()
