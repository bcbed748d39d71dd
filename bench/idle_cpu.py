"""Idle CPU per actor: what a storage actor costs the node while it does nothing.

Each configuration runs in a fresh process with a fresh local cluster: ``--actors`` bare Ray
actors and as many storage actors (fake driver, no collection), then CPU time per process
over ``--seconds``, and the wakeups of one actor's main thread (``/proc/<pid>/task/<tid>``
context switches), which tell a periodic timer from real work.

Configurations: Ray's defaults; ``quiet``: Ray's background reporting slowed down where it only
feeds Ray's dashboards (``QUIET_RAY``); ``tuned``: also the heartbeat and health-check periods
(they would slow failure detection and retries). Neither is applied by ``rayactors.start``:
within this benchmark's noise they change nothing, because the floor is the worker's main
thread waking every 10 ms (Ray's ``CoreWorker::RunTaskExecutionLoop`` checks for signals on a
fixed 10 ms timer, taking the GIL each time; no setting changes it).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Ray's background reporting slowed down where it only feeds Ray's dashboards and state API
QUIET_RAY = {"RAY_metrics_report_interval_ms": "60000", "RAY_task_events_report_interval_ms": "60000",
             "RAY_event_stats": "0", "RAY_enable_metrics_collection": "0"}
#: also the heartbeat and health-check periods (they would slow failure detection and retries)
TUNED = {**QUIET_RAY, "RAY_core_worker_internal_heartbeat_ms": "10000", "RAY_health_check_period_ms": "30000"}


def cpu_s(pid: int) -> float:
    import psutil
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def main_thread_switches(pid: int) -> int:
    """Voluntary context switches of the process's main thread (one per timer wakeup)."""
    with open(f"/proc/{pid}/task/{pid}/status") as fh:
        for line in fh:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    return 0


def measure(actors: int, seconds: float) -> dict[str, Any]:
    """Runs in the child process: start a cluster, make the actors, sample their CPU."""
    import rayactors  # noqa: F401
    import ray
    from rayactors import start

    @ray.remote(num_cpus=0.001)
    class Bare:
        def pid(self) -> int:
            return os.getpid()

    client = start(namespace="idle-cpu", data_dir=tempfile.mkdtemp(prefix="bench-idle-"), scheduler_enabled=False)
    access = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "1"},
              "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}
    bare = [Bare.remote() for _ in range(actors)]
    bare_pids = ray.get([b.pid.remote() for b in bare])
    sids = [client.discover_storage(None, access)["id"] for _ in range(actors)]
    storage_pids = [client.storage_state(s)["pid"] for s in sids]
    time.sleep(5)                                  # let start-up work settle
    groups = {"bare": bare_pids, "storage": storage_pids}
    c0 = {k: [cpu_s(p) for p in v] for k, v in groups.items()}
    w0 = {k: main_thread_switches(v[0]) for k, v in groups.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    out: dict[str, Any] = {}
    for k, pids in groups.items():
        per = [(cpu_s(p) - c) / dt * 1000 for p, c in zip(pids, c0[k])]
        out[k] = {"cpu_ms_per_s_median": statistics.median(per), "cpu_ms_per_s_max": max(per),
                  "main_thread_wakeups_per_s": (main_thread_switches(pids[0]) - w0[k]) / dt}
    for s in sids:
        client.remove_storage(None, s)
    ray.shutdown()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.idle_cpu")
    ap.add_argument("--actors", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.actors, args.seconds)), flush=True)
        return {}
    from .common import write_result
    results: dict[str, Any] = {"actors": args.actors, "seconds": args.seconds, "quiet_settings": QUIET_RAY,
                               "tuned_settings": TUNED}
    for name, extra in (("defaults", {}), ("quiet", QUIET_RAY), ("tuned", TUNED)):
        env = {k: v for k, v in os.environ.items() if k not in TUNED and k != "RAY_ADDRESS"}
        proc = subprocess.run([sys.executable, "-m", "bench.idle_cpu", "--child", "--actors", str(args.actors),
                               "--seconds", str(args.seconds)], cwd=ROOT, env={**env, **extra, "PYTHONPATH": ROOT},
                              capture_output=True, text=True, timeout=600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"{name}: no result\n{proc.stderr[-2000:]}")
        results[name] = json.loads(lines[-1])
        for kind, r in results[name].items():
            print(f"{name:>8} {kind:>7} actor: {r['cpu_ms_per_s_median']:.1f} ms CPU per s (max "
                  f"{r['cpu_ms_per_s_max']:.1f}), main thread wakes {r['main_thread_wakeups_per_s']:.0f}/s")
    results["target_ms_per_s"] = 2.0
    print("wrote", write_result("idle_cpu", results))
    return results


if __name__ == "__main__":
    main()
