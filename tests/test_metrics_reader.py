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
    # a storage's read lists its own partition; an id that is no partition's name lists them all,
    # and its filter still matches nothing
    assert read(storage_ids=["../storage_id=st-b"], root=root).num_rows == 0
    assert read(storage_ids=iter(["st-b"]), root=root).num_rows == 5
    with pytest.raises(pa.ArrowInvalid, match="storage_id=st-a"):
        read(storage_ids=["st-a"], root=root)


def test_a_damaged_file_is_set_aside_by_the_merge_and_the_newest_point_and_the_rest_kept(tmp_path, caplog):
    """Left in its storage's partition, a file damaged from outside failed that storage's hourly
    merge on every try and, for a real-time driver, every window (the newest point written is
    read first). The sink moves it beside itself as ``.damaged-<name>``, which readers skip,
    says so once, and merges or reads the rest: nothing readable is lost."""
    import logging

    from rayactors.metrics.sink import DAMAGED_PREFIX
    root = str(tmp_path / "metrics")
    start = 1_764_720_000_000                                   # 2025-12-03 00:00 UTC
    sink = ParquetSink(root)
    for i in range(3):
        sink.write_window("st-a", start + i * 60_000, start + (i + 1) * 60_000, window("st-a", start + i * 60_000, 2))
    folder = tmp_path / "metrics" / "storage_id=st-a" / "date=2025-12-03"
    good = sorted(p.name for p in folder.iterdir())
    (folder / f"w-{start + 180_000}-{start + 240_000}.parquet").write_text("not parquet")   # the same hour
    with caplog.at_level(logging.WARNING, logger="delfin_dm.metrics"):
        assert sink.compact("st-a", older_than_ms=start + 7_200_000) == 3
    hour = start // 3_600_000
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and names[1] == f"h-{hour}.parquet", names
    assert names[0].startswith(DAMAGED_PREFIX) and names[0].endswith(f"-w-{start + 180_000}-{start + 240_000}.parquet")
    assert [r.getMessage().split(" cannot be read")[0] for r in caplog.records] == \
        [f"metrics file {folder}/w-{start + 180_000}-{start + 240_000}.parquet"]
    assert read(storage_ids=["st-a"], root=root).num_rows == 2 * len(good)

    # the newest point, read from the newest day's files: a damaged one there is set aside too
    later = start + 86_400_000                                  # the next day
    sink.write_window("st-a", later, later + 60_000, window("st-a", later, 3))
    next_day = tmp_path / "metrics" / "storage_id=st-a" / "date=2025-12-04"
    (next_day / "w-9-10.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    assert sink.newest("st-a") == later + 2
    aside = [p.name for p in next_day.iterdir() if p.name.startswith(".")]
    assert len(aside) == 1 and aside[0].startswith(DAMAGED_PREFIX) and aside[0].endswith("-w-9-10.parquet"), aside
    # a damaged hour file (the merge's target) is set aside, and the new windows merged alone
    (folder / f"h-{hour}.parquet").write_text("cut short")
    sink.write_window("st-a", start + 300_000, start + 360_000, window("st-a", start + 300_000, 4))
    assert sink.compact("st-a", older_than_ms=later) == 1
    assert read(storage_ids=["st-a"], root=root, start=start, end=later).num_rows == 4
    assert sum(p.name.startswith(DAMAGED_PREFIX) for p in folder.iterdir()) == 2       # both kept


def test_a_read_that_meets_the_hourly_merge_lists_the_files_again(tmp_path, monkeypatch):
    """The merge renames the hour's file in, then deletes its window files: a read that listed
    the window files just before found them gone (FileNotFoundError out of read, time_span, the
    export and the HTTP metrics route). Forced here: the merge runs between a read's listing
    and its reading. The read lists again and gets every point once."""
    import rayactors.metrics.reader as reader
    root = str(tmp_path / "metrics")
    start = 1_764_720_000_000
    sink = ParquetSink(root)
    for i in range(4):
        sink.write_window("st-a", start + i * 60_000, start + (i + 1) * 60_000, window("st-a", start + i * 60_000, 3))
    listed, real = [], reader._dataset

    def merge_after_listing(root_: str, ids=None):
        dataset = real(root_, ids)
        listed.append(sorted(f.rsplit("/", 1)[1] for f in dataset.files))
        if len(listed) == 1:
            assert sink.compact("st-a", older_than_ms=start + 7_200_000) == 4
        return dataset
    monkeypatch.setattr(reader, "_dataset", merge_after_listing)
    got = read(storage_ids=["st-a"], root=root)
    assert len(listed) == 2 and listed[0][0].startswith("w-") and listed[1] == [f"h-{start // 3_600_000}.parquet"]
    assert got.num_rows == 12 and sorted(got.column("timestamp").cast(pa.int64()).to_pylist()) == \
        sorted(start + i * 60_000 + j for i in range(4) for j in range(3))


def test_a_read_between_the_merges_rename_and_its_deletes_gets_each_point_once(tmp_path):
    """The merge renames the hour's file in, then deletes the window files it merged: a read
    that listed both read that hour's points twice. Forced here: the window files put back as
    they were (bytes and times) after the merge. Each point is read once; a window written after
    the hour's file (collected late, merged at the next merge) is read too."""
    import os
    root = str(tmp_path / "metrics")
    start = 1_764_720_000_000
    sink = ParquetSink(root)
    for i in range(4):
        sink.write_window("st-a", start + i * 60_000, start + (i + 1) * 60_000, window("st-a", start + i * 60_000, 3))
    folder = tmp_path / "metrics" / "storage_id=st-a" / "date=2025-12-03"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert sink.compact("st-a", older_than_ms=start + 7_200_000) == 4
    for p, (data, mtime) in before.items():                  # the instant before the deletes
        p.write_bytes(data)
        os.utime(p, ns=(mtime, mtime))
    assert len(list(folder.iterdir())) == 5
    assert read(storage_ids=["st-a"], root=root).num_rows == 12
    sink.write_window("st-a", start + 600_000, start + 660_000, window("st-a", start + 600_000, 2))   # late
    got = read(storage_ids=["st-a"], root=root)
    assert got.num_rows == 14 and got.column("timestamp").cast(pa.int64()).to_pylist().count(start + 600_000) == 1
