"""Call overhead of one control call: in-process driver vs client (actor handle) vs HTTP API.

The call is ``get_capabilities`` on a fake-driver storage (no array I/O), so the figures are
the layers' own cost. Interleaved rounds; p50/p99.
"""
from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time

import requests

import rayactors  # noqa: F401
import ray

from .common import stats, write_result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args(argv)
    from drivers.fake_driver import FakeStorageDriver
    from rayactors import start
    from serve_app import deploy, shutdown
    access = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "10", "seed": "1"},
              "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}
    client = start(namespace=f"bench-overhead-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-"),
                   scheduler_enabled=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = deploy(client.cfg, port=port, api_token="")
    try:
        sid = client.discover_storage(None, access)["id"]
        driver = FakeStorageDriver(**access)
        http = requests.Session()
        calls = {"direct": lambda: driver.get_capabilities(None),
                 "client": lambda: client.get_capabilities(None, sid),
                 "http": lambda: http.get(f"{url}/v1/storages/{sid}/capabilities", timeout=30).json()}
        for fn in calls.values():
            for _ in range(20):
                fn()
        samples = {k: [] for k in calls}
        for _ in range(args.rounds):
            for k, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - t0)
        out = {}
        for k, v in samples.items():
            s = stats(v)
            out[k] = {"p50_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000}
            print(f"{k:>6}: p50 {out[k]['p50_ms']:.3f} ms  p99 {out[k]['p99_ms']:.3f} ms")
        client.remove_storage(None, sid)
        print("wrote", write_result("overhead", out))
        return out
    finally:
        shutdown()
        ray.kill(ray.get_actor("driver-manager", namespace=client.cfg.namespace), no_restart=True)


if __name__ == "__main__":
    main()
