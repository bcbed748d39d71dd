"""Deterministic perf history: value = f(seed, resource, metric, timestamp), vectorised.

Shared by the fake driver and the simulated arrays, so both answer the same window with
the same points and a test can compute what it expects.
"""
from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

from .arrow_schema import METRIC_SCHEMA
from .perf_catalog import unit_of

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

_SCALE = {"IOPS": 20000.0, "MB/s": 800.0, "ms": 20.0, "KB": 256.0, "%": 100.0}


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wraps on overflow, as intended)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _key(text: str) -> int:
    return zlib.crc32(text.encode())


def sample_times(start_ms: int, end_ms: int, step_s: int) -> np.ndarray:
    """Aligned sample timestamps t with start <= t < end (epoch ms, multiples of step)."""
    step = step_s * 1000
    first = -(-int(start_ms) // step) * step
    if first >= end_ms:
        return np.empty(0, dtype=np.int64)
    return np.arange(first, int(end_ms), step, dtype=np.int64)


def series_values(seed: int, rtype: str, ids: list[str], metrics: list[str],
                  timestamps: np.ndarray) -> np.ndarray:
    """Values in resource-major, then metric, then timestamp order (flat float64)."""
    nres, nmet, nts = len(ids), len(metrics), len(timestamps)
    rkeys = np.array([_key(f"{rtype}/{i}") for i in ids], dtype=np.uint64)
    mkeys = np.array([_key(m) for m in metrics], dtype=np.uint64)
    scales = np.array([_SCALE[unit_of(m)] for m in metrics])
    r_idx = np.repeat(np.arange(nres), nmet * nts)
    m_idx = np.tile(np.repeat(np.arange(nmet), nts), nres)
    t = np.tile(timestamps.astype(np.uint64), nres * nmet)
    h = _mix(np.uint64(seed) ^ _mix(rkeys[r_idx] * np.uint64(1_000_003) + mkeys[m_idx]) ^ t)
    return np.round((h >> np.uint64(11)).astype(np.float64) / float(1 << 53) * scales[m_idx], 3)


def assemble(storage_id: str, rtype: str, ids: list[str], metrics: list[str],
             timestamps: np.ndarray, values: np.ndarray) -> pa.Table:
    """A METRIC_SCHEMA table from one resource type's value matrix, columnar throughout."""
    nres, nmet, nts = len(ids), len(metrics), len(timestamps)
    n = nres * nmet * nts
    if len(values) != n:
        raise ValueError(f"expected {n} values for {rtype}, got {len(values)}")
    r_idx = np.repeat(np.arange(nres, dtype=np.int32), nmet * nts)
    m_idx = np.tile(np.repeat(np.arange(nmet, dtype=np.int32), nts), nres)
    units = [unit_of(m) for m in metrics]
    unit_dict = sorted(set(units))
    unit_idx = np.array([unit_dict.index(u) for u in units], dtype=np.int32)
    zeros = np.zeros(n, dtype=np.int32)
    ts = pa.array(np.tile(np.asarray(timestamps, dtype=np.int64), nres * nmet))
    return pa.Table.from_arrays([
        ts.cast(pa.timestamp("ms")).cast(pa.timestamp("ms", tz="UTC")),
        pa.DictionaryArray.from_arrays(zeros, [storage_id]),
        pa.DictionaryArray.from_arrays(zeros, [rtype]),
        pa.DictionaryArray.from_arrays(r_idx, list(ids)),
        pa.DictionaryArray.from_arrays(m_idx, list(metrics)),
        pa.DictionaryArray.from_arrays(unit_idx[m_idx], unit_dict),
        pa.array(np.asarray(values, dtype=np.float64)),
    ], schema=METRIC_SCHEMA)


def concat(parts: list[pa.Table]) -> pa.Table:
    if not parts:
        return METRIC_SCHEMA.empty_table()
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts).unify_dictionaries()


def perf_table(seed: int, storage_id: str, series: dict[str, list[str]],
               resources: dict[str, list[str]], timestamps: np.ndarray) -> pa.Table:
    """The METRIC_SCHEMA table for ``series`` {resource_type: [metric]} over ``resources``
    {resource_type: [resource_id]} at ``timestamps``, without Python loops over points."""
    parts = []
    for rtype, metrics in series.items():
        ids = resources.get(rtype) or []
        if ids and metrics and len(timestamps):
            values = series_values(seed, rtype, ids, metrics, timestamps)
            parts.append(assemble(storage_id, rtype, ids, metrics, timestamps, values))
    return concat(parts)
