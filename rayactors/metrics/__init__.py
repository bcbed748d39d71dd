"""Metrics: the Parquet dataset the storage actors write, and readers for notebooks.

    from rayactors import metrics
    table = metrics.read(storage_ids=[sid], start=..., end=..., metrics=["iops"])
    ds = metrics.to_ray_dataset(storage_ids=[sid])

Layout: ``<root>/storage_id=<id>/date=<YYYY-MM-DD>/{w-<start>-<end>,h-<hour>}.parquet``
(hive partitions; ``w-`` one collection window, ``h-`` one compacted hour), zstd, dictionary
encoded. DuckDB: ``SELECT * FROM read_parquet('<root>/**/*.parquet', hive_partitioning=true)``.

The readers load on first use: ``pyarrow.dataset`` pulls in pandas (~40 MB per process), which
a storage actor, that only writes, never needs.
"""
from typing import Any

from .sink import ParquetSink

__all__ = ["read", "time_span", "to_ray_dataset", "ParquetSink"]


def __getattr__(name: str) -> Any:
    if name in ("read", "time_span", "to_ray_dataset"):
        from . import reader
        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
