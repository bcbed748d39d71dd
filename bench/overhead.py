"""Call overhead of one control call, each layer next to the bare thing it is built on.

The call is ``get_capabilities`` on a fake-driver storage (no array I/O), so the figures are
the layers' own cost. Contenders, interleaved round by round (A B C ... A B C ...):

- ``direct``: the driver method in this process;
- ``bare_actor``: a plain Ray actor holding the same driver, one method call;
- ``bare_actor_groups``: the same with our actor's concurrency groups (Ray runs each group on
  its own thread pool, which costs a thread hop);
- ``client``: ``DriverManagerClient.get_capabilities`` (actor handle, control lane, gate);
- ``serve_noop``: a Serve deployment answering ``{}``: Serve's own HTTP floor;
- ``serve_fastapi_noop``: the same as a FastAPI ingress with one route;
- ``http_health``: our app's ``GET /health`` (its middleware and routing, no actor call);
- ``http_registry``: our ``GET /v1/storages/{id}`` (one awaited supervisor call);
- ``http``: our ``GET /v1/storages/{id}/capabilities`` (one awaited storage-actor call).

The last three split ``http`` into our app's own layers and the awaited actor call.

Targets: client <= bare_actor + 0.3 ms p50; http <= serve_noop + 3 ms p50.
"""
from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from typing import Any, Callable

import requests

import rayactors  # noqa: F401
import ray

from .common import stats, write_result

ACCESS = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "10", "seed": "1"},
          "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}


class _Holder:
    def __init__(self) -> None:
        from drivers.fake_driver import FakeStorageDriver
        self.driver = FakeStorageDriver(**ACCESS)

    def get_capabilities(self) -> dict:
        return self.driver.get_capabilities(None)


BareActor = ray.remote(num_cpus=0.001)(_Holder)
GroupedActor = ray.remote(num_cpus=0.001, concurrency_groups={"admin": 4, "session": 1, "control": 4, "bulk": 16})(
    type("GroupedHolder", (_Holder,), {"get_capabilities": ray.method(concurrency_group="control")(
        _Holder.get_capabilities)}))


def noop_apps(port_base: str) -> dict[str, str]:
    """Serve's floor: a plain deployment and a FastAPI ingress, each answering ``{}``."""
    from fastapi import FastAPI
    from ray import serve
    from starlette.requests import Request

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.001})
    class NoOp:
        async def __call__(self, request: Request) -> dict:
            return {}

    api = FastAPI()

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.001})
    @serve.ingress(api)
    class FastNoOp:
        @api.get("/")
        async def noop(self) -> dict:
            return {}

    serve.run(NoOp.bind(), name="bench-noop", route_prefix="/bench-noop")
    serve.run(FastNoOp.bind(), name="bench-fastapi-noop", route_prefix="/bench-fastapi-noop")
    return {"serve_noop": f"{port_base}/bench-noop", "serve_fastapi_noop": f"{port_base}/bench-fastapi-noop/"}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.overhead")
    ap.add_argument("--rounds", type=int, default=500)
    args = ap.parse_args(argv)
    from drivers.fake_driver import FakeStorageDriver
    from ray import serve
    from rayactors import start, stop_supervisor
    from serve_app import deploy, shutdown
    client = start(namespace=f"bench-overhead-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-"),
                   scheduler_enabled=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = deploy(client.cfg, port=port, api_token="")
    try:
        sid = client.discover_storage(None, ACCESS)["id"]
        noops = noop_apps(f"http://127.0.0.1:{port}")
        driver, bare, grouped = FakeStorageDriver(**ACCESS), BareActor.remote(), GroupedActor.remote()
        http = requests.Session()
        calls: dict[str, Callable[[], Any]] = {
            "direct": lambda: driver.get_capabilities(None),
            "bare_actor": lambda: ray.get(bare.get_capabilities.remote()),
            "bare_actor_groups": lambda: ray.get(grouped.get_capabilities.remote()),
            "client": lambda: client.get_capabilities(None, sid),
            "serve_noop": lambda: http.get(noops["serve_noop"], timeout=30).json(),
            "serve_fastapi_noop": lambda: http.get(noops["serve_fastapi_noop"], timeout=30).json(),
            "http_health": lambda: http.get(f"{url}/health", timeout=30).json(),
            "http_registry": lambda: http.get(f"{url}/v1/storages/{sid}", timeout=30).json(),
            "http": lambda: http.get(f"{url}/v1/storages/{sid}/capabilities", timeout=30).json()}
        for fn in calls.values():
            for _ in range(50):
                fn()
        samples: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(args.rounds):
            for k, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - t0)
        out: dict[str, Any] = {}
        for k, v in samples.items():
            s = stats(v)
            out[k] = {"p50_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000}
            print(f"{k:>18}: p50 {out[k]['p50_ms']:.3f} ms  p99 {out[k]['p99_ms']:.3f} ms")
        out["client_over_bare_p50_ms"] = out["client"]["p50_ms"] - out["bare_actor"]["p50_ms"]
        out["http_over_serve_p50_ms"] = out["http"]["p50_ms"] - out["serve_noop"]["p50_ms"]
        out["app_layers_over_serve_p50_ms"] = out["http_health"]["p50_ms"] - out["serve_noop"]["p50_ms"]
        out["awaited_actor_call_p50_ms"] = out["http"]["p50_ms"] - out["http_health"]["p50_ms"]
        out["targets"] = {"client_over_bare_p50_ms": 0.3, "http_over_serve_p50_ms": 3.0}
        print(f"client over a bare actor call: +{out['client_over_bare_p50_ms']:.3f} ms p50 (target +0.3); "
              f"HTTP over Serve's no-op: +{out['http_over_serve_p50_ms']:.3f} ms p50 (target +3): our app's "
              f"layers +{out['app_layers_over_serve_p50_ms']:.3f}, the awaited actor call "
              f"+{out['awaited_actor_call_p50_ms']:.3f}")
        client.remove_storage(None, sid)
        print("wrote", write_result("overhead", {"rounds": args.rounds, **out}))
        return out
    finally:
        for name in ("bench-noop", "bench-fastapi-noop"):
            try:
                serve.delete(name)
            except Exception:
                pass
        shutdown(client.cfg.namespace)
        stop_supervisor(client.cfg, timeout_s=0)


if __name__ == "__main__":
    main()
