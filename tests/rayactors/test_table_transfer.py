"""Tables leave a storage actor as pyarrow pickles them (``rayactors.metrics.transfer``): whole,
sliced, empty and multi-chunk tables arrive equal, schema and metadata included, and a slice
costs the object store its own rows, not the buffers it was cut from (ARROW-10739)."""
import pickle

import numpy as np
import pyarrow as pa
import pytest
import ray
from ray.experimental import get_object_locations

from drivers.arrow_schema import METRIC_SCHEMA
from rayactors.metrics import transfer


def window(points: int, offset: int = 0) -> pa.Table:
    """A metrics window in METRIC_SCHEMA (dictionary columns, UTC timestamps)."""
    ids = np.arange(points)
    return pa.Table.from_pydict({
        "timestamp": pa.array(1_800_000_000_000 + ids % 7, pa.timestamp("ms", tz="UTC")),
        "storage_id": pa.array(["st"] * points).dictionary_encode(),
        "resource_type": pa.array(["volume"] * points).dictionary_encode(),
        "resource_id": pa.array([f"vol-{(i + offset) % 997}" for i in ids]).dictionary_encode(),
        "metric": pa.array([f"m{i % 10}" for i in ids]).dictionary_encode(),
        "unit": pa.array(["IOPS"] * points).dictionary_encode(),
        "value": pa.array(ids * 0.5),
    }, schema=METRIC_SCHEMA)


CASES = {
    "whole": lambda: window(20_000),
    "slice": lambda: window(20_000).slice(5_000, 1_000),
    "empty": lambda: window(100).slice(0, 0),
    "chunks with their own dictionaries": lambda: pa.concat_tables([window(300), window(200, offset=500)]),
    "chunks that do not line up": lambda: pa.table(
        {"a": pa.chunked_array([[1, 2], [3]]), "b": pa.chunked_array([[1.0, 2.0, 3.0]])}),
}


@ray.remote(num_cpus=0)
class Sender:
    """Sends tables the way a storage actor does."""

    def __init__(self) -> None:
        transfer.install()

    def make(self, case: str) -> pa.Table:
        return CASES[case]()

    def put_slice(self, rows: int, of: int) -> list:
        """A ``rows``-row slice of an ``of``-row float table, in the object store (by reference)."""
        big = pa.table({"value": np.arange(of, dtype=np.float64)})
        return [ray.put(big.slice(of // 2, rows))]


@pytest.mark.parametrize("case", sorted(CASES))
def test_tables_arrive_equal(ray_cluster, case):
    sender = Sender.remote()
    got = ray.get(sender.make.remote(case))
    expected = CASES[case]()
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert got.equals(expected)


def test_a_slice_costs_its_own_rows(ray_cluster):
    sender = Sender.remote()
    ref = ray.get(sender.put_slice.remote(1_000, 2_000_000))[0]       # 8 KB of a 16 MB table
    size = get_object_locations([ref])[ref]["object_size"]
    assert size < 64_000, size
    got = ray.get(ref)
    assert got.num_rows == 1_000 and got.column("value")[0].as_py() == 1_000_000.0


def test_what_a_slice_is_sent_as():
    big = window(50_000)
    cut = big.slice(10, 100)
    native = len(pickle.dumps(cut, protocol=5))            # pyarrow alone sends every buffer whole
    sent = len(pickle.dumps(transfer.table_batches(cut), protocol=5))
    assert sent * 10 < native
    batches = transfer.table_batches(pa.table({"a": pa.chunked_array([[1, 2], [3]]),
                                               "b": pa.chunked_array([[1.0, 2.0, 3.0]])}))
    assert [b.num_rows for b in batches] == [3]            # combined, not slices of column b
    assert transfer.table_batches(big.slice(0, 0))[0].schema == METRIC_SCHEMA
