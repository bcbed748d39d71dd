"""Transport of one collection window from the session holder to a consumer process.

(a) Ray actor returning an Arrow table (object store); (b) REST/JSON in Delfin's Metric shape
(FastAPI/uvicorn + requests); (c) gRPC/protobuf, one message per metric (stubs generated from
bench/proto/window.proto at run time); (d) our Serve route streaming Arrow IPC (reads the window
back from the Parquet dataset, as it serves it). Rounds interleave A B C D; medians, p99, ratios
to (b). 5M points run (a) and (d) only: (b) and (c) would need ~1 GB of JSON/protobuf objects.
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


@ray.remote(num_cpus=0)
class Holder:
    """Holds the window like a storage actor does after collecting it."""

    def __init__(self, points: int, per: int) -> None:
        self.table = window_table(points, per)

    def get(self) -> pa.Table:
        return self.table


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


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--big-rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess  # noqa: F401  (import check only)
    from rayactors import start
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
        for points, per, rounds, contenders in ((50_000, 10, args.rounds, "abcd"), (5_000_000, 1000, args.big_rounds, "ad")):
            sid = client.discover_storage(None, fake)["id"]
            table = window_table(points, per, sid)
            ParquetSink(client.cfg.metrics_root).write_window(sid, 1_800_000_000_000 - 60_000,
                                                              1_800_000_000_000 + 60_000, table)
            holder = Holder.remote(points, per)
            ray.get(holder.get.remote())
            http = requests.Session()
            calls = {}
            calls["a"] = lambda: ray.get(holder.get.remote())
            if "b" in contenders:
                rest, rport = start_server("rest", points, per, stub_dir)
                grpc_proc, gport = start_server("grpc", points, per, stub_dir)
                procs += [rest, grpc_proc]
                channel = grpc.insecure_channel(f"127.0.0.1:{gport}", options=[("grpc.max_receive_message_length", 1 << 30)])
                stub = window_pb2_grpc.CollectorStub(channel)
                calls["b"] = lambda: http.get(f"http://127.0.0.1:{rport}/metrics", timeout=300).json()
                calls["c"] = lambda: stub.Collect(window_pb2.WindowRequest(start=0, end=1), timeout=300)
            metrics_url = f"{url}/v1/storages/{sid}/metrics?start=1799999000000&end=1800001000000"
            calls["d"] = lambda: pa.ipc.open_stream(http.get(metrics_url, timeout=300).content).read_all()
            wire = {"a": table.nbytes}
            for k in contenders:          # warm up; measure bytes on the wire
                out = calls[k]()
                if k == "b":
                    wire["b"] = len(http.get(f"http://127.0.0.1:{rport}/metrics").content)
                elif k == "c":
                    wire["c"] = out.ByteSize()
                elif k == "d":
                    wire["d"] = len(http.get(metrics_url).content)
            samples = {k: [] for k in contenders}
            for _ in range(rounds):
                for k in contenders:      # interleaved: a b c d a b c d ...
                    t0 = time.perf_counter()
                    calls[k]()
                    samples[k].append(time.perf_counter() - t0)
            block = {}
            for k in contenders:
                s = stats(samples[k])
                block[k] = {"median_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000, "mb": wire[k] / 1e6,
                            "points_per_s": points / s["median"], "gb_per_s": wire[k] / s["median"] / 1e9}
            if "b" in block:
                for k in contenders:
                    block[k]["speedup_vs_b"] = block["b"]["median_ms"] / block[k]["median_ms"]
            results[str(points)] = block
            for p in procs:
                p.kill()
                p.wait()
            procs.clear()
            ray.kill(holder)
            client.remove_storage(None, sid)
            names = {"a": "(a) Ray actor, Arrow", "b": "(b) REST/JSON", "c": "(c) gRPC/protobuf", "d": "(d) Serve, Arrow IPC"}
            for k, v in block.items():
                print(f"{points:>9} points {names[k]:<22} median {v['median_ms']:9.1f} ms  p99 {v['p99_ms']:9.1f} ms  "
                      f"{v['mb']:8.1f} MB  {v['points_per_s']/1e6:8.2f} Mpts/s  {v['gb_per_s']:.2f} GB/s"
                      + (f"  x{v['speedup_vs_b']:.1f} vs (b)" if "speedup_vs_b" in v else ""))
    finally:
        for p in procs:
            p.kill()
        shutdown()
        ray.kill(ray.get_actor("driver-manager", namespace=client.cfg.namespace), no_restart=True)
    print("wrote", write_result("transport", {"results": results}))
    return results


if __name__ == "__main__":
    main()
