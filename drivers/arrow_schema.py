"""The one metric data contract: long format, one row per point.

``timestamp`` timestamp[ms, UTC]; ``storage_id``, ``resource_type``, ``resource_id``, ``metric``,
``unit`` dictionary-encoded strings; ``value`` float64. Drivers may return a table in this
schema (the fast path) or Delfin's ``Metric(name, labels, values)`` list, converted here once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pyarrow as pa

from .errors import InvalidResults

_DICT = pa.dictionary(pa.int32(), pa.string())

METRIC_SCHEMA = pa.schema([
    pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("storage_id", _DICT, nullable=False),
    pa.field("resource_type", _DICT, nullable=False),
    pa.field("resource_id", _DICT, nullable=False),
    pa.field("metric", _DICT, nullable=False),
    pa.field("unit", _DICT, nullable=False),
    pa.field("value", pa.float64(), nullable=False),
])
STRING_COLUMNS = ("storage_id", "resource_type", "resource_id", "metric", "unit")


@dataclass
class Metric:
    """Delfin's compatible perf result: one series of one metric of one resource."""

    name: str
    labels: dict[str, Any]
    values: dict[int, float] = field(default_factory=dict)


def empty_table() -> pa.Table:
    return METRIC_SCHEMA.empty_table()


def validate_table(table: Any) -> pa.Table:
    """Return ``table`` conformed to METRIC_SCHEMA or raise InvalidResults saying why.

    Plain string columns are dictionary-encoded and int64 epoch-ms timestamps accepted, so a
    driver can build its table either way; nulls and missing columns are rejected.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise InvalidResults(f"expected a pyarrow Table, got {type(table).__name__}")
    missing = [f.name for f in METRIC_SCHEMA if f.name not in table.column_names]
    if missing:
        raise InvalidResults(f"metric table lacks columns {missing}")
    if table.schema.equals(METRIC_SCHEMA) and not any(table.column(n).null_count for n in table.column_names):
        return table
    columns = []
    for f in METRIC_SCHEMA:
        col = table.column(f.name)
        if col.null_count:
            raise InvalidResults(f"metric column {f.name} has nulls")
        try:
            if f.name == "timestamp" and pa.types.is_integer(col.type):
                col = col.cast(pa.int64()).cast(pa.timestamp("ms")).cast(f.type)
            elif f.name in STRING_COLUMNS and pa.types.is_dictionary(col.type):
                col = col.cast(f.type)
            elif f.name in STRING_COLUMNS:
                col = col.cast(pa.string()).dictionary_encode().cast(f.type)
            else:
                col = col.cast(f.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InvalidResults(f"metric column {f.name}: {exc}") from exc
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=METRIC_SCHEMA)


def metrics_to_table(metrics: Iterable[Metric], storage_id: str | None = None) -> pa.Table:
    """Delfin's Metric list -> one table in METRIC_SCHEMA (the compatible, slower path)."""
    ts: list[int] = []
    cols: dict[str, list[str]] = {n: [] for n in STRING_COLUMNS}
    vals: list[float] = []
    for m in metrics:
        labels = m.labels
        try:
            row = {
                "storage_id": str(storage_id or labels["storage_id"]),
                "resource_type": str(labels["resource_type"]),
                "resource_id": str(labels["resource_id"]),
                "metric": str(m.name),
                "unit": str(labels.get("unit", "")),
            }
        except KeyError as exc:
            raise InvalidResults(f"metric {m.name} lacks label {exc}") from exc
        n = len(m.values)
        for name, value in row.items():
            cols[name].extend([value] * n)
        ts.extend(int(t) for t in m.values.keys())
        vals.extend(float(v) for v in m.values.values())
    table = pa.table({"timestamp": pa.array(ts, pa.int64()),
                      **{n: pa.array(v, pa.string()) for n, v in cols.items()},
                      "value": pa.array(vals, pa.float64())})
    return validate_table(table)


def table_to_metrics(table: pa.Table) -> list[Metric]:
    """METRIC_SCHEMA table -> Delfin's Metric list, for callers that need the old shape."""
    table = validate_table(table)
    series: dict[tuple, Metric] = {}
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    ts = table.column("timestamp").cast(pa.int64()).to_pylist()
    for i in range(table.num_rows):
        key = (cols["storage_id"][i], cols["resource_type"][i], cols["resource_id"][i], cols["metric"][i])
        m = series.get(key)
        if m is None:
            m = series[key] = Metric(key[3], {"storage_id": key[0], "resource_type": key[1],
                                              "resource_id": key[2], "resource_name": key[2],
                                              "type": "RAW", "unit": cols["unit"][i]})
        m.values[ts[i]] = cols["value"][i]
    return list(series.values())
