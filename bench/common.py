"""Shared benchmark helpers: a loopback cluster, timing statistics and result files (JSON + Markdown rows)."""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Any, Callable

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def init_local_ray(**kwargs: Any) -> None:
    """A cluster of this benchmark's own, started as ``rayactors.start`` starts one (loopback
    only: a bare ``ray.init(_node_ip_address="127.0.0.1")`` listens on the machine's address)."""
    from rayactors.runtime import start_local_ray
    start_local_ray(log_to_driver=False, **kwargs)


def stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    return {"n": len(s), "median": statistics.median(s), "p99": p99, "min": s[0], "max": s[-1]}


def cpu_seconds(processes: Any, children: bool = False) -> dict[int, float]:
    """``{pid: CPU seconds so far}`` (user + system) of ``processes`` (``psutil.Process``es);
    with ``children``, also what their exited children spent; a process gone meanwhile is left out."""
    import psutil
    out = {}
    for p in processes:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        out[p.pid] = t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)
    return out


def cpu_between(before: dict[int, float], after: dict[int, float], pids: Any = None) -> float:
    """CPU seconds spent between two ``{pid: CPU seconds so far}`` readings, by the processes in
    ``pids`` (all when None); a process that exited in between is left out, not counted negative."""
    return sum(after[p] - before.get(p, 0.0) for p in after if pids is None or p in pids)


def node_cpu() -> list[int]:
    """The node's CPU time so far, in ticks, by state: user, nice, system, idle, iowait, irq,
    softirq, steal (the first line of /proc/stat)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def node_shares(before: list[int], after: list[int]) -> dict[str, float]:
    """Percent of the node's CPU time between two ``node_cpu`` readings that was busy, idle, and
    stolen by the host of a virtual machine: two runs on a noisy host differ by it, so a run
    that compares figures over time records it beside them."""
    d = [b - a for a, b in zip(before, after)]
    total = sum(d) or 1
    return {"busy": round(100 * (total - d[3] - d[4] - d[7]) / total, 1),
            "idle": round(100 * (d[3] + d[4]) / total, 1), "steal": round(100 * d[7] / total, 1)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def environment() -> dict[str, Any]:
    import pyarrow
    import ray
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "ray": ray.__version__,
            "pyarrow": pyarrow.__version__}


def write_result(name: str, data: dict[str, Any]) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.json")
    with open(path, "w") as fh:
        json.dump({"benchmark": name, "environment": environment(), **data}, fh, indent=2, default=str)
    return path
