"""Scale on one node: N storages, each backed by a simulated array with 5k LUNs x 10 metrics.

Collection interval compressed to ``--interval`` seconds (default 20 s instead of 60 s: three
times the real load per minute). Storages register ``--parallel`` at a time (8), as an
operator onboarding a fleet would. For each N: time to register, memory per storage actor
(USS and PSS), node CPU used by the runtime, and whether every window was collected on time.
Stops early when the node runs short of memory.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import psutil

import rayactors  # noqa: F401
import ray
from drivers.errors import DelfinError
from rayactors import DriverManagerClient

from .common import write_result

METRICS10 = ["iops", "readIops", "writeIops", "throughput", "readThroughput", "writeThroughput",
             "responseTime", "readResponseTime", "writeResponseTime", "ioSize"]


def actor_memory(pids: list[int]) -> dict[str, float]:
    uss, pss, rss = [], [], []
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        uss.append(info.uss)
        pss.append(getattr(info, "pss", info.uss))
        rss.append(info.rss)
    n = max(1, len(uss))
    return {"uss_mb": sum(uss) / n / 1e6, "pss_mb": sum(pss) / n / 1e6, "rss_mb": sum(rss) / n / 1e6}


def runtime_cpu_seconds() -> float:
    total = 0.0
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if "ray" in cmd or p.info["name"] in ("raylet", "gcs_server"):
                t = p.cpu_times()
                total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def register(client: DriverManagerClient, access: dict) -> str | None:
    try:
        return client.discover_storage(None, access)["id"]
    except DelfinError as exc:   # counted per step; the others go on
        print(f"register failed: {exc.error_code}: {exc}")
        return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="25,50,100",
                    help="200 does not fit 24 GiB: ~148 MB USS per actor (see bench/README.md)")
    ap.add_argument("--interval", type=int, default=20)
    ap.add_argument("--windows", type=int, default=2, help="windows observed per step")
    ap.add_argument("--max-mem-percent", type=float, default=80.0)
    ap.add_argument("--parallel", type=int, default=8, help="registrations in flight")
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start
    steps = [int(s) for s in args.steps.split(",")]
    sim = SimulatorProcess()
    client = start(namespace=f"bench-scale-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-scale-"),
                   sync_interval_s=3600, perf_overlap_s=0)
    ids: list[str] = []
    rows = []
    try:
        for n in steps:
            if psutil.virtual_memory().percent > args.max_mem_percent:
                print(f"stopping before N={n}: memory {psutil.virtual_memory().percent:.0f}% used")
                break
            t0 = time.perf_counter()
            accesses = [rest_access(sim.add_array(perf_interval=args.interval,
                                                  sizes={"volumes": 5000, "disks": 0, "ports": 0}),
                                    resource_metrics={"volume": METRICS10}) for _ in range(n - len(ids))]
            with ThreadPoolExecutor(args.parallel) as pool:
                added = [sid for sid in pool.map(lambda a: register(client, a), accesses) if sid]
            ids += added
            register_s = time.perf_counter() - t0
            before = {sid: client.collection_stats(sid).get("windows_collected", 0) for sid in ids}
            cpu0, w0 = runtime_cpu_seconds(), time.perf_counter()
            time.sleep(args.interval * args.windows + args.interval * 0.6)
            cpu1, w1 = runtime_cpu_seconds(), time.perf_counter()
            after = {sid: client.collection_stats(sid) for sid in ids}
            got = [after[s].get("windows_collected", 0) - before[s] for s in ids]
            pending = sum(after[s].get("windows_pending", 0) for s in ids)
            lost = sum(after[s].get("windows_lost", 0) for s in ids)
            durations = [after[s].get("last_duration_s") or 0 for s in ids]
            pids = [client.storage_state(s)["pid"] for s in ids]
            mem = actor_memory(pids)
            on_time = sum(1 for g in got if g >= args.windows) / len(ids)
            row = {"n": n, "register_s": register_s, "register_per_storage_s": register_s / max(1, len(added)),
                   "register_failures": len(accesses) - len(added),
                   **mem, "runtime_cpu_cores": (cpu1 - cpu0) / (w1 - w0), "on_time_fraction": on_time,
                   "windows_pending": pending, "windows_lost": lost, "max_collection_s": max(durations),
                   "node_mem_percent": psutil.virtual_memory().percent,
                   "points_per_min": n * 50_000 * 60 / args.interval}
            rows.append(row)
            print(f"N={n:4d} register {register_s:6.1f} s  actor USS {mem['uss_mb']:.0f} MB PSS {mem['pss_mb']:.0f} MB  "
                  f"runtime CPU {row['runtime_cpu_cores']:.2f} cores  on time {on_time:.0%}  pending {pending}  "
                  f"max window {max(durations):.2f} s  node mem {row['node_mem_percent']:.0f}%")
            if on_time < 0.95:
                print(f"N={n} does not keep up; stopping")
                break
        kept = [r["n"] for r in rows if r["on_time_fraction"] >= 0.95]
        result = {"interval_s": args.interval, "steps": rows, "largest_n_keeping_up": max(kept) if kept else 0}
        print("wrote", write_result("scale", result))
        return result
    finally:
        def remove(sid: str) -> None:
            try:
                client.remove_storage(None, sid)
            except Exception:
                pass
        with ThreadPoolExecutor(args.parallel) as pool:
            list(pool.map(remove, ids))
        ray.kill(ray.get_actor("driver-manager", namespace=client.cfg.namespace), no_restart=True)
        sim.stop()


if __name__ == "__main__":
    main()
