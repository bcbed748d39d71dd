"""Collection pipeline cost: runtime overhead per 50k-point window, and read() rows/s.

Overhead = what the runtime adds after the driver returned its Arrow table: schema check,
trimming the overlap, the Parquet write (zstd, atomic rename) and the object-store put for
live callers. Driver I/O is excluded. Run: ``python -m bench.pipeline``.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import rayactors  # noqa: F401
import ray

from drivers import perfgen
from drivers.arrow_schema import validate_table
from rayactors import metrics
from rayactors.metrics.sink import ParquetSink

from .common import init_local_ray, stats, write_result

VOLUMES, METRICS = 5000, ["iops", "readIops", "writeIops", "throughput", "readThroughput",
                          "writeThroughput", "responseTime", "readResponseTime", "writeResponseTime", "ioSize"]


def window_table(end_ms: int, interval_ms: int = 60_000) -> pa.Table:
    """What a driver returns for one window with 60 s overlap: 2 samples x 5k x 10 = 100k rows."""
    ts = np.array([end_ms - 2 * interval_ms, end_ms - interval_ms], dtype=np.int64)
    ids = [f"vol-{i}" for i in range(VOLUMES)]
    return perfgen.perf_table(7, "bench-storage", {"volume": METRICS}, {"volume": ids}, ts)


def pipeline_once(sink: ParquetSink, raw: pa.Table, start: int, end: int) -> int:
    table = validate_table(raw)
    ts = table.column("timestamp")
    table = table.filter(pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type))))
    sink.write_window("bench-storage", start, end, table)
    ref = ray.put(table)
    del ref
    return table.num_rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=40)
    args = ap.parse_args(argv)
    started_ray = not ray.is_initialized()
    if started_ray:
        init_local_ray(num_cpus=1)
    root = tempfile.mkdtemp(prefix="bench-metrics-")
    sink = ParquetSink(root)
    base = 1_800_000_000_000 // 60_000 * 60_000
    raws = [window_table(base + (i + 1) * 60_000) for i in range(args.windows)]
    samples, rows = [], 0
    for i, raw in enumerate(raws):
        start = base + i * 60_000
        t0 = time.perf_counter()
        rows = pipeline_once(sink, raw, start, start + 60_000)
        samples.append(time.perf_counter() - t0)
    overhead = stats(samples[3:])            # first windows warm caches
    read_samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        n = metrics.read(root=root).num_rows
        read_samples.append(time.perf_counter() - t0)
    filt_samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        nf = metrics.read(root=root, metrics=["iops"], start=base + 10 * 60_000, end=base + 20 * 60_000).num_rows
        filt_samples.append(time.perf_counter() - t0)
    r = stats(read_samples)
    result = {
        "points_per_window": rows,
        "overhead_ms": {k: (v * 1000 if k != "n" else v) for k, v in overhead.items()},
        "target_ms": 30,
        "read_rows": n, "read_rows_per_s": n / r["median"], "read_median_s": r["median"],
        "filtered_read_rows": nf, "filtered_read_median_s": stats(filt_samples)["median"],
    }
    print(f"pipeline overhead per {rows}-point window: median {result['overhead_ms']['median']:.1f} ms, "
          f"p99 {result['overhead_ms']['p99']:.1f} ms (target <= 30 ms)")
    print(f"read(): {n} rows in {r['median']*1000:.0f} ms = {result['read_rows_per_s']/1e6:.1f} M rows/s; "
          f"filtered ({nf} rows) {result['filtered_read_median_s']*1000:.0f} ms")
    print("wrote", write_result("pipeline", result))
    if started_ray:
        ray.shutdown()
    return result


if __name__ == "__main__":
    main()
