"""The metrics dataset's readers (rayactors/metrics/reader.py) over real Parquet files, no Ray: a
file damaged from outside (ours are written whole, then renamed in) fails the reads of its own
storage only, naming it; every other storage reads as before."""
from __future__ import annotations

import pyarrow as pa
import pytest

from drivers.arrow_schema import METRIC_SCHEMA
from rayactors.metrics import ParquetSink, read, time_span


def window(storage_id: str, start: int, points: int) -> pa.Table:
    return pa.table({"timestamp": pa.array([start + i for i in range(points)], pa.timestamp("ms", tz="UTC")),
                     "storage_id": [storage_id] * points, "resource_type": ["volume"] * points,
                     "resource_id": [f"v{i}" for i in range(points)], "metric": ["iops"] * points,
                     "unit": ["IOPS"] * points, "value": [float(i) for i in range(points)]}).cast(METRIC_SCHEMA)


def test_a_damaged_file_fails_its_own_storages_reads_only(tmp_path):
    root = str(tmp_path / "metrics")
    start = 1_764_720_000_000                                   # 2025-12-03 00:00 UTC
    sink = ParquetSink(root)
    sink.write_window("st-b", start, start + 60_000, window("st-b", start, 5))
    damaged = tmp_path / "metrics" / "storage_id=st-a" / "date=2025-12-03" / "w-1-2.parquet"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("not parquet")        # found first: pyarrow inferred the schema from it
    got = read(storage_ids=["st-b"], root=root)
    assert got.schema == METRIC_SCHEMA and got.column("value").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert time_span(storage_ids=["st-b"], root=root) == (start, start + 4)
    with pytest.raises(pa.ArrowInvalid, match="storage_id=st-a"):
        read(storage_ids=["st-a"], root=root)
