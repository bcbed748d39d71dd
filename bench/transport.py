"""Transport of one collection window from the session holder to a consumer process.

Ours: (a) a kept window as ``recent_metrics`` hands it out (put in the object store once when
collected, a reference per call, read with the client's ``transfer.resolve``), (d) our Serve
route streaming Arrow IPC (it reads the window back from Parquet, as it serves it), (i) a table
returned per call (serialized on every call, as ``collect_perf_metrics`` answers). Peers, each
in its best shape (window serialized once at server start, so a request costs only the transport), each in
its own process: (b) REST with Delfin's Metric JSON, (c) gRPC with a message per metric, (e)
REST with columnar JSON, (f) gRPC with columnar packed protobuf, (g) Arrow IPC in a gRPC bytes
field, (h) Arrow IPC over plain HTTP (uvicorn). Every consumer reads every value (their sum,
checked equal). Rounds interleave all contenders; medians and p99. 5M points: (a), (d), (g), (h), (i); the row-per-metric shapes would need ~1 GB of Python objects, and the same-node ``ray.get``
is checked to be zero-copy (Arrow's allocator does not grow).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import requests

import rayactors  # noqa: F401
import ray
from rayactors.config import Config
from rayactors.metrics import transfer
from rayactors.session_actor import concurrency_groups

from .common import stats, write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def window_table(points: int, per: int, storage_id: str = "bench") -> pa.Table:
    from drivers.arrow_schema import METRIC_SCHEMA
    n_res = points // per
    r_idx = np.repeat(np.arange(n_res, dtype=np.int32), per)
    m_idx = np.tile(np.arange(per, dtype=np.int32), n_res)
    zeros = np.zeros(points, dtype=np.int32)
    return pa.Table.from_arrays([
        pa.array(np.full(points, 1_800_000_000_000, dtype=np.int64)).cast(pa.timestamp("ms")).cast(pa.timestamp("ms", tz="UTC")),
        pa.DictionaryArray.from_arrays(zeros, [storage_id]),
        pa.DictionaryArray.from_arrays(zeros, ["volume"]),
        pa.DictionaryArray.from_arrays(r_idx, [f"vol-{i}" for i in range(n_res)]),
        pa.DictionaryArray.from_arrays(m_idx, [f"m{i}" for i in range(per)]),
        pa.DictionaryArray.from_arrays(zeros, ["IOPS"]),
        pa.array(((r_idx * 31 + m_idx) % 1000).astype(np.float64)),
    ], schema=METRIC_SCHEMA)


@ray.remote(num_cpus=0, concurrency_groups=concurrency_groups(Config()))
class Holder:
    """Holds the window like a storage actor that keeps it (``recent_windows``): published once
    (``transfer.publish``, as the scheduler keeps it), and sends tables the way a storage actor
    does (``transfer.install``); each answer from the lane the storage actor answers it on."""

    def __init__(self, points: int, per: int) -> None:
        transfer.install()
        self.table = window_table(points, per)
        self.kept = transfer.Published((transfer.publish(self.table),))

    @ray.method(concurrency_group="admin")
    def recent(self) -> object:
        """What ``recent_metrics`` answers for a kept window: its reference."""
        return self.kept

    @ray.method(concurrency_group="bulk")
    def get(self) -> pa.Table:
        """A table per call, as ``collect_perf_metrics`` answers from the bulk lane."""
        return self.table


def kept_window(holder) -> pa.Table:
    """(a): what a client's ``recent_metrics`` does with a kept window's answer."""
    return transfer.resolve(ray.get(holder.recent.remote()))


def table_per_call(holder) -> pa.Table:
    """(i): a table serialized for this call."""
    return ray.get(holder.get.remote())


def generate_grpc(out: str) -> None:
    from grpc_tools import protoc
    proto_dir = os.path.join(ROOT, "bench", "proto")
    rc = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}",
                      os.path.join(proto_dir, "window.proto")])
    if rc != 0:
        raise RuntimeError("protoc failed")


def start_server(kind: str, points: int, per: int, stub_dir: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, stub_dir]))
    proc = subprocess.Popen([sys.executable, "-m", "bench.transport_servers", kind, str(port), str(points), str(per)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"{kind} server did not start")


NAMES = {"a": "(a) Ray actor, kept window (ours)", "b": "(b) REST, Delfin JSON", "c": "(c) gRPC, message per metric",
         "d": "(d) Serve, Arrow IPC (ours)", "e": "(e) REST, columnar JSON", "f": "(f) gRPC, columnar protobuf",
         "g": "(g) gRPC, Arrow IPC", "h": "(h) HTTP, Arrow IPC",
         "i": "(i) Ray actor, a table per call (ours)"}
#: the best shapes of the peers: (a) must beat these on 50k points
BEST_PEERS = "efgh"


def value_sum_arrow(table: pa.Table) -> float:
    import pyarrow.compute as pc
    return pc.sum(table.column("value")).as_py()


def read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def contenders_for(holder, http, rest_port, stub, metrics_url, window_pb2) -> dict:
    """Each contender fetches the window and reads every value (their sum): a consumer's work."""
    import json
    req = lambda: window_pb2.WindowRequest(start=0, end=1)  # noqa: E731
    rest = f"http://127.0.0.1:{rest_port}" if rest_port else None
    return {
        "a": lambda: value_sum_arrow(kept_window(holder)),
        "b": lambda: sum(v for m in http.get(f"{rest}/metrics", timeout=300).json() for v in m["values"].values()),
        "c": lambda: sum(v for m in stub.Collect(req(), timeout=300).metrics for v in m.values.values()),
        "d": lambda: value_sum_arrow(read_ipc(http.get(metrics_url, timeout=300).content)),
        "e": lambda: float(np.asarray(json.loads(http.get(f"{rest}/columnar", timeout=300).content)["values"],
                                      dtype=np.float64).sum()),
        "f": lambda: float(np.fromiter((w := stub.CollectColumnar(req(), timeout=300)).values, np.float64,
                                       len(w.values)).sum()),
        "g": lambda: value_sum_arrow(read_ipc(stub.CollectArrow(req(), timeout=300).ipc_stream)),
        "h": lambda: value_sum_arrow(read_ipc(http.get(f"{rest}/arrow", timeout=300).content)),
        "i": lambda: value_sum_arrow(table_per_call(holder)),
    }


def wire_bytes(k: str, http, rest_port, stub, metrics_url, window_pb2, table: pa.Table) -> int:
    rest, req = f"http://127.0.0.1:{rest_port}", window_pb2.WindowRequest(start=0, end=1)
    return {"a": lambda: table.nbytes, "b": lambda: len(http.get(f"{rest}/metrics").content),
            "c": lambda: stub.Collect(req).ByteSize(), "d": lambda: len(http.get(metrics_url).content),
            "e": lambda: len(http.get(f"{rest}/columnar").content), "f": lambda: stub.CollectColumnar(req).ByteSize(),
            "g": lambda: stub.CollectArrow(req).ByteSize(), "h": lambda: len(http.get(f"{rest}/arrow").content), "i": lambda: table.nbytes}[k]()


def zero_copy_get(fetch) -> dict:
    """A same-node ``ray.get`` maps the object store's pages: Arrow's allocator grows by nothing."""
    before = pa.total_allocated_bytes()
    table = fetch()
    grown = pa.total_allocated_bytes() - before
    return {"table_mb": table.nbytes / 1e6, "allocated_by_get_mb": grown / 1e6, "zero_copy": grown < table.nbytes / 100}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.transport")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--big-rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from rayactors import start, stop_supervisor
    from rayactors.metrics.sink import ParquetSink
    from serve_app import deploy, shutdown

    stub_dir = tempfile.mkdtemp(prefix="bench-grpc-")
    generate_grpc(stub_dir)
    sys.path.insert(0, stub_dir)
    import grpc
    import window_pb2
    import window_pb2_grpc

    data_dir = tempfile.mkdtemp(prefix="bench-transport-")
    client = start(namespace=f"bench-transport-{os.getpid()}", data_dir=data_dir, scheduler_enabled=False)
    port = free_port()
    url = deploy(client.cfg, port=port, api_token="")
    fake = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "1"},
            "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}
    results: dict = {}
    procs: list[subprocess.Popen] = []
    try:
        for points, per, rounds, contenders in ((50_000, 10, args.rounds, "abcdefghi"),
                                                 (5_000_000, 1000, args.big_rounds, "adghi")):
            sid = client.discover_storage(None, fake)["id"]
            table = window_table(points, per, sid)
            ParquetSink(client.cfg.metrics_root).write_window(sid, 1_800_000_000_000 - 60_000,
                                                              1_800_000_000_000 + 60_000, table)
            holder = Holder.remote(points, per)
            table_per_call(holder)
            http = requests.Session()
            rest, rport = start_server("rest", points, per, stub_dir)
            grpc_proc, gport = start_server("grpc", points, per, stub_dir)
            procs += [rest, grpc_proc]
            channel = grpc.insecure_channel(f"127.0.0.1:{gport}", options=[("grpc.max_receive_message_length", 1 << 30)])
            stub = window_pb2_grpc.CollectorStub(channel)
            metrics_url = f"{url}/v1/storages/{sid}/metrics?start=1799999000000&end=1800001000000"
            calls = contenders_for(holder, http, rport, stub, metrics_url, window_pb2)
            expected = value_sum_arrow(table)
            wire = {}
            for k in contenders:          # warm up, check every contender read the same values
                got = calls[k]()
                assert abs(got - expected) < 1e-6 * max(1.0, abs(expected)), (k, got, expected)
                wire[k] = wire_bytes(k, http, rport, stub, metrics_url, window_pb2, table)
            samples = {k: [] for k in contenders}
            for _ in range(rounds):
                for k in contenders:      # interleaved: a b c ... a b c ...
                    t0 = time.perf_counter()
                    calls[k]()
                    samples[k].append(time.perf_counter() - t0)
            block = {}
            for k in contenders:
                s = stats(samples[k])
                block[k] = {"name": NAMES[k], "median_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000,
                            "mb": wire[k] / 1e6, "points_per_s": points / s["median"],
                            "gb_per_s": table.nbytes / s["median"] / 1e9}
            peers = [k for k in BEST_PEERS if k in block]
            best = min(peers, key=lambda k: block[k]["median_ms"])
            block["best_peer"] = best
            block["a_over_best_peer"] = block[best]["median_ms"] / block["a"]["median_ms"]
            block["i_over_best_peer"] = block[best]["median_ms"] / block["i"]["median_ms"]
            if points >= 5_000_000:
                block["zero_copy"] = zero_copy_get(lambda: kept_window(holder))
                block["zero_copy_per_call"] = zero_copy_get(lambda: table_per_call(holder))
            results[str(points)] = block
            for p in procs:
                p.kill()
                p.wait()
            procs.clear()
            channel.close()
            ray.kill(holder)
            client.remove_storage(None, sid)
            for k in contenders:
                v = block[k]
                print(f"{points:>9} points {NAMES[k]:<32} median {v['median_ms']:9.1f} ms  p99 {v['p99_ms']:9.1f} ms  "
                      f"{v['mb']:8.1f} MB on the wire  {v['gb_per_s']:.2f} GB/s of Arrow data")
            print(f"   (a) is {block['a_over_best_peer']:.2f}x, (i) {block['i_over_best_peer']:.2f}x the best peer {NAMES[best]}"
                  + (f"; same-node get allocated {block['zero_copy']['allocated_by_get_mb']:.1f} MB for a "
                     f"{block['zero_copy']['table_mb']:.0f} MB table" if "zero_copy" in block else ""))
    finally:
        for p in procs:
            p.kill()
        shutdown(client.cfg.namespace)
        stop_supervisor(client.cfg, timeout_s=0)
    print("wrote", write_result("transport", {"results": results}))
    return results


if __name__ == "__main__":
    main()
