"""Reading the metrics dataset with partition pruning (pyarrow; Ray Data for big reads)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Optional, TypeVar, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from drivers.arrow_schema import METRIC_SCHEMA, validate_table

from ..config import Config
from .sink import day_of, filesystem, hour_file, window_hour

TimeLike = Union[int, float, dt.datetime, str, None]
PARTITIONING = ds.partitioning(pa.schema([("storage_id", pa.string()), ("date", pa.string())]), flavor="hive")
#: the dataset as its files and partitions make it (a file holds METRIC_SCHEMA without
#: ``storage_id``, its partition). Given, not inferred: pyarrow would read it from the first file
#: it finds, and one file damaged from outside would then fail every storage's reads.
DATASET_SCHEMA = pa.schema([f for f in METRIC_SCHEMA if f.name != "storage_id"] + list(PARTITIONING.schema))
_COLUMNS = [f.name for f in METRIC_SCHEMA]
#: how many times a read starts over when a file it listed is gone before it opens it: the hourly
#: merge (``ParquetSink.compact``) renames the hour's file in, then deletes its window files, and
#: a damaged file is moved aside; the new listing has the hour's file instead
READ_TRIES = 3
T = TypeVar("T")


def _ms(value: TimeLike) -> Optional[int]:
    """Epoch ms from ms, a datetime, or an ISO string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return int(value)


def _filter(storage_ids: Optional[Iterable[str]], start: Optional[int], end: Optional[int],
            metrics: Optional[Iterable[str]], resource_type: Optional[str]) -> Optional[ds.Expression]:
    parts = []
    if storage_ids is not None:
        parts.append(ds.field("storage_id").isin(list(storage_ids)))
    if start is not None:   # windows carry their start date: allow one day of overlap
        parts.append(ds.field("date") >= day_of(start - 86_400_000))
        parts.append(ds.field("timestamp") >= pa.scalar(start, pa.timestamp("ms", tz="UTC")))
    if end is not None:
        parts.append(ds.field("date") <= day_of(end))
        parts.append(ds.field("timestamp") < pa.scalar(end, pa.timestamp("ms", tz="UTC")))
    if metrics is not None:
        parts.append(ds.field("metric").isin(list(metrics)))
    if resource_type is not None:
        parts.append(ds.field("resource_type") == resource_type)
    if not parts:
        return None
    expr = parts[0]
    for p in parts[1:]:
        expr = expr & p
    return expr


def _dataset(root: Optional[str], storage_ids: Optional[list[str]] = None) -> Optional[ds.Dataset]:
    """The dataset's current files (``_current``): of these storages' partitions only, when named
    (a storage's read lists its own files, not every storage's), else of all."""
    root = root or Config.load().metrics_root
    fs, base = filesystem(root)
    if fs.get_file_info(base).type != pafs.FileType.Directory:
        return None
    if storage_ids is not None and all(s and "/" not in s and s not in (".", "..") for s in storage_ids):
        infos = [i for s in storage_ids
                 for i in fs.get_file_info(pafs.FileSelector(f"{base}/storage_id={s}", recursive=True,
                                                             allow_not_found=True))]
    else:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return ds.dataset(_current(infos), filesystem=fs, format="parquet", partitioning=PARTITIONING,
                      partition_base_dir=base, schema=DATASET_SCHEMA)


def _current(infos: list[pafs.FileInfo]) -> list[str]:
    """The dataset's files (pyarrow's own rule: not ``.``- or ``_``-files), less the window files
    an hour's file already holds. The hourly merge renames the hour's file in, then deletes the
    window files it read: listed in between, their points were read twice. Those are the window
    files of that hour written before the hour's file; one written after it (a window collected
    late) is not in it yet, and is kept. One writer per storage (its actor, which merges and
    writes in turn) makes the order of the two writes the order of their times."""
    files = [i for i in infos if i.type == pafs.FileType.File and not i.base_name.startswith((".", "_"))]
    written = {i.path: i.mtime_ns for i in files}
    kept = []
    for i in files:
        hour = window_hour(i.base_name)
        merged = None if hour is None else written.get(f"{i.path.rsplit('/', 1)[0]}/{hour_file(hour)}")
        if merged is None or i.mtime_ns is None or i.mtime_ns >= merged:
            kept.append(i.path)
    return kept


def _ids(storage_ids: Optional[Iterable[str]]) -> Optional[list[str]]:
    return None if storage_ids is None else list(storage_ids)


def _scan(root: Optional[str], storage_ids: Optional[list[str]], use: Callable[[ds.Dataset], T], empty: T) -> T:
    """``use`` on the dataset as listed now; listed again when a file went meanwhile."""
    def once() -> T:
        dataset = _dataset(root, storage_ids)
        return empty if dataset is None else use(dataset)
    for _ in range(READ_TRIES - 1):
        try:
            return once()
        except FileNotFoundError:
            pass
    return once()


def time_span(storage_ids: Optional[Iterable[str]] = None, root: Optional[str] = None) -> Optional[tuple[int, int]]:
    """(first, last) timestamp in ms of these storages' points, or None when there are none."""
    ids = _ids(storage_ids)
    expr = _filter(ids, None, None, None, None)
    table = _scan(root, ids, lambda d: d.to_table(columns=["timestamp"], filter=expr), None)
    if table is None or table.num_rows == 0:
        return None
    ts = table.column("timestamp").cast(pa.int64())
    return pc.min(ts).as_py(), pc.max(ts).as_py()


def read(storage_ids: Optional[Iterable[str]] = None, start: TimeLike = None, end: TimeLike = None,
         metrics: Optional[Iterable[str]] = None, resource_type: Optional[str] = None,
         root: Optional[str] = None) -> pa.Table:
    """Rows of the dataset in METRIC_SCHEMA; ``start`` inclusive, ``end`` exclusive."""
    ids = _ids(storage_ids)
    expr = _filter(ids, _ms(start), _ms(end), metrics, resource_type)
    table = _scan(root, ids, lambda d: d.to_table(columns=_COLUMNS, filter=expr), METRIC_SCHEMA.empty_table())
    if table.num_rows == 0:
        return METRIC_SCHEMA.empty_table()
    return validate_table(table)


def to_ray_dataset(storage_ids: Optional[Iterable[str]] = None, start: TimeLike = None, end: TimeLike = None,
                   metrics: Optional[Iterable[str]] = None, resource_type: Optional[str] = None,
                   root: Optional[str] = None) -> Any:
    """A ``ray.data.Dataset`` over the same files (pruned to the matching partitions)."""
    import ray.data
    ids = _ids(storage_ids)
    expr = _filter(ids, _ms(start), _ms(end), metrics, resource_type)

    def per_file(dataset: ds.Dataset) -> list[pa.Table]:   # small tables; Ray Data parallelises what follows
        fragments = dataset.get_fragments(filter=expr) if expr is not None else dataset.get_fragments()
        tables = [frag.to_table(columns=_COLUMNS, filter=expr, schema=dataset.schema) for frag in fragments]
        return [validate_table(t) for t in tables if t.num_rows]
    return ray.data.from_arrow(_scan(root, ids, per_file, []) or [METRIC_SCHEMA.empty_table()])
