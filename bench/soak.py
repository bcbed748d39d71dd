"""Fault soak: five minutes of array faults against one storage while a neighbour collects.

Cycles down -> slow (latency above the timeout) -> malformed -> throttled (503) -> healthy,
20 s each, and samples the faulty storage actor's threads and RSS every 10 s, plus the healthy
neighbour's windows on time. Run: ``python -m bench.soak [--seconds 300]`` (not part of
``make bench``'s 20-minute budget; its figures are quoted in the closing notes).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import rayactors  # noqa: F401
import ray

from .common import write_result

FAULTS = [{"down": True}, {"latency_ms": 2500}, {"malformed": True}, {"throttle": 503}, {}]
CLEAR = {"down": False, "latency_ms": 0, "malformed": False, "throttle": False}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=300)
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    sim = SimulatorProcess()
    client = start(namespace=f"bench-soak-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-soak-"),
                   backoff_base_s=0.5, backoff_cap_s=5, perf_overlap_s=0)
    try:
        bad = sim.add_array(perf_interval=5, sizes={"volumes": 100})
        good = sim.add_array(perf_interval=5, sizes={"volumes": 100})
        rm = {"volume": ["iops", "throughput"]}
        sid = client.discover_storage(None, rest_access(bad, resource_metrics=rm, timeout=1))["id"]
        ok = client.discover_storage(None, rest_access(good, resource_metrics=rm, timeout=1))["id"]
        time.sleep(12)
        good0 = client.collection_stats(ok)["windows_collected"]
        samples, t0, i = [], time.monotonic(), 0
        while time.monotonic() - t0 < args.seconds:
            sim.faults(bad["name"], **{**CLEAR, **FAULTS[i % len(FAULTS)]})
            for _ in range(2):
                time.sleep(10)
                st = client.storage_state(sid)
                samples.append({"t": round(time.monotonic() - t0), "state": st["state"], "threads": st["threads"],
                                "rss_mb": round(st["rss_mb"], 1), "logins": st["logins"]})
                try:
                    client.get_storage(None, sid)
                except Exception:
                    pass
            i += 1
        sim.faults(bad["name"], **CLEAR)
        elapsed = time.monotonic() - t0
        good_got = client.collection_stats(ok)["windows_collected"] - good0
        threads = [s["threads"] for s in samples]
        rss = [s["rss_mb"] for s in samples]
        out = {"seconds": elapsed, "samples": samples, "threads_first": threads[0], "threads_last": threads[-1],
               "threads_max": max(threads), "rss_first_mb": rss[0], "rss_last_mb": rss[-1], "rss_max_mb": max(rss),
               "neighbour_on_time": good_got / (elapsed / 5), "logins_during_soak": samples[-1]["logins"]}
        print(f"soak {elapsed:.0f} s: threads {threads[0]} -> {threads[-1]} (max {max(threads)}), "
              f"RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB (max {max(rss):.0f}), neighbour on time {out['neighbour_on_time']:.0%}")
        print("wrote", write_result("soak", out))
        for s in (sid, ok):
            client.remove_storage(None, s)
        return out
    finally:
        sim.stop()
        ray.shutdown()


if __name__ == "__main__":
    main()
