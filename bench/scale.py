"""Scale on one node: N storages, each backed by a simulated array with 5k LUNs x 10 metrics.

Each storage collects at the real ``--interval`` (60 s), 50k points a window. Storages register
``--parallel`` at a time (8), as an operator onboarding a fleet would. For each N: time to
register, memory per storage actor (USS and PSS), the runtime's CPU (the Ray processes this
benchmark started and our actors, counted by process tree, not by name: the simulator and
this process are left out) and whether every window was collected on time. Intermediate steps
are watched for ``--windows`` windows, the last for ``--last-windows`` (10). Stops early when
the node runs short of memory.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil

import rayactors  # noqa: F401
import ray
from drivers.errors import DelfinError
from rayactors import DriverManagerClient
from rayactors.naming import get_supervisor

from .common import cpu_between, cpu_seconds, write_result

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


def runtime_processes(exclude: set[int]) -> list[psutil.Process]:
    """Every process Ray started for this benchmark (GCS, raylet, agents, workers: all are
    descendants of this driver process when it started Ray), minus ``exclude`` and theirs."""
    skip = set(exclude)
    for pid in exclude:
        try:
            skip |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in skip]


def runtime_cpu_seconds(exclude: set[int]) -> dict[int, float]:
    """CPU seconds so far per runtime process, their exited children's included."""
    return cpu_seconds(runtime_processes(exclude), children=True)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds so far of one process and its children (the simulator)."""
    root = psutil.Process(pid)
    return sum(cpu_seconds([root, *root.children(recursive=True)], children=True).values())


def process_parts(exclude: set[int], storage_pids: set[int], supervisor_pid: int) -> dict[int, str]:
    """Each runtime process's part, for the CPU breakdown: our storage actors and supervisor by
    pid, Ray's workers by their title (``ray::OwnershipBoard``, ``ray::IDLE``), Ray's daemons by
    executable (``gcs_server``, ``raylet``), and the rest (dashboard, agents, log monitor)."""
    parts = {}
    for p in runtime_processes(exclude):
        if p.pid in storage_pids:
            parts[p.pid] = "storage actors"
        elif p.pid == supervisor_pid:
            parts[p.pid] = "supervisor"
        else:
            try:
                name, title = p.name(), " ".join(p.cmdline())
            except psutil.Error:
                continue
            parts[p.pid] = (title.split()[0] if title.startswith("ray::") else
                            name if name in ("gcs_server", "raylet") else "Ray's other processes")
    return parts


def cpu_by_part(before: dict[int, float], after: dict[int, float], parts: dict[int, str], wall_s: float
                ) -> dict[str, float]:
    """Cores each part used between two readings (a process not classified counts as "Ray's other
    processes")."""
    out: dict[str, float] = {}
    for pid in after:
        part = parts.get(pid, "Ray's other processes")
        out[part] = out.get(part, 0.0) + (after[pid] - before.get(pid, 0.0)) / wall_s
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def node_busy(before: Any, after: Any) -> float:
    """The node's CPUs busy between two ``psutil.cpu_times()`` readings (0-1)."""
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return 1 - idle / total if total > 0 else 0.0


def summary(interval_s: int, rows: list[dict]) -> dict:
    kept = [r["n"] for r in rows if r["on_time_fraction"] >= 0.95]
    return {"interval_s": interval_s, "steps": rows, "largest_n_keeping_up": max(kept) if kept else 0,
            "register_total_s": sum(r["register_s"] for r in rows)}


def register(client: DriverManagerClient, access: dict) -> str | None:
    try:
        return client.discover_storage(None, access)["id"]
    except DelfinError as exc:   # counted per step; the others go on
        print(f"register failed: {exc.error_code}: {exc}")
        return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="50,100,200", help="storages registered by the end of each step")
    ap.add_argument("--interval", type=int, default=60, help="collection interval of every storage (s)")
    ap.add_argument("--windows", type=int, default=2, help="windows watched at each intermediate step")
    ap.add_argument("--last-windows", type=int, default=10, help="windows watched at the last step")
    ap.add_argument("--max-mem-percent", type=float, default=80.0)
    ap.add_argument("--parallel", type=int, default=8, help="registrations in flight")
    ap.add_argument("--out", default="scale", help="results/<out>.json (another name keeps make bench's)")
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start, stop_supervisor
    steps = [int(s) for s in args.steps.split(",")]
    sim = SimulatorProcess()
    client = start(namespace=f"bench-scale-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-scale-"),
                   sync_interval_s=3600, perf_overlap_s=0)
    ids: list[str] = []
    rows = []
    exclude = {sim.proc.pid}
    try:
        for n in steps:
            windows = args.last_windows if n == steps[-1] else args.windows
            if psutil.virtual_memory().percent > args.max_mem_percent:
                print(f"stopping before N={n}: memory {psutil.virtual_memory().percent:.0f}% used")
                break
            t0 = time.perf_counter()
            accesses = [rest_access(sim.add_array(perf_interval=args.interval,
                                                  sizes={"volumes": 5000, "disks": 0, "ports": 0}),
                                    resource_metrics={"volume": METRICS10}) for _ in range(n - len(ids))]
            # what the registrations compete with: the node's CPU, ours and the simulator's
            reg_cpu0, reg_sim0, reg_node0 = runtime_cpu_seconds(exclude), tree_cpu_seconds(sim.proc.pid), psutil.cpu_times()
            t_reg = time.perf_counter()
            with ThreadPoolExecutor(args.parallel) as pool:
                added = [sid for sid in pool.map(lambda a: register(client, a), accesses) if sid]
            ids += added
            register_s = time.perf_counter() - t0
            reg_wall = time.perf_counter() - t_reg
            registering = {"register_node_busy": node_busy(reg_node0, psutil.cpu_times()),
                           "register_runtime_cores": cpu_between(reg_cpu0, runtime_cpu_seconds(exclude)) / reg_wall,
                           "register_simulator_cores": (tree_cpu_seconds(sim.proc.pid) - reg_sim0) / reg_wall}
            before = {sid: client.collection_stats(sid).get("windows_collected", 0) for sid in ids}
            cpu0, w0, sim0 = runtime_cpu_seconds(exclude), time.perf_counter(), tree_cpu_seconds(sim.proc.pid)
            time.sleep(args.interval * windows + args.interval * 0.6)
            cpu1, w1, sim1 = runtime_cpu_seconds(exclude), time.perf_counter(), tree_cpu_seconds(sim.proc.pid)
            after = {sid: client.collection_stats(sid) for sid in ids}
            got = [after[s].get("windows_collected", 0) - before[s] for s in ids]
            pending = sum(after[s].get("windows_pending", 0) for s in ids)
            lost = sum(after[s].get("windows_lost", 0) for s in ids)
            durations = [after[s].get("last_duration_s") or 0 for s in ids]
            pids = [client.storage_state(s)["pid"] for s in ids]
            mem = actor_memory(pids)
            supervisor = get_supervisor(client.cfg.supervisor_name, client.cfg.namespace)
            parts = process_parts(exclude, set(pids), ray.get(supervisor.ping.remote())["pid"])
            by_part = cpu_by_part(cpu0, cpu1, parts, w1 - w0)
            on_time = sum(1 for g in got if g >= windows) / len(ids)
            # registrations committed although their caller was not told so: a caller whose wait ran
            # out hears the storage, "called off", or, when the settle is not answered either, "unknown"
            unreported = len(client.list_storages()) - len(ids)
            row = {"n": n, "register_s": register_s, "register_per_storage_s": register_s / max(1, len(added)),
                   "register_failures": len(accesses) - len(added), "registered_unreported": unreported,
                   **registering,
                   **mem, "runtime_cpu_cores": cpu_between(cpu0, cpu1) / (w1 - w0), "on_time_fraction": on_time,
                   "runtime_cpu_percent_of_node": 100 * cpu_between(cpu0, cpu1) / (w1 - w0) / psutil.cpu_count(),
                   "runtime_cpu_cores_by_part": by_part,
                   "storage_actor_cpu_ms_per_s": 1000 * by_part.get("storage actors", 0.0) / max(1, len(pids)),
                   "windows_watched": windows, "windows_missed": sum(max(0, windows - g) for g in got),
                   "windows_pending": pending, "windows_lost": lost, "max_collection_s": max(durations),
                   "node_mem_percent": psutil.virtual_memory().percent,
                   "simulator_cpu_cores": (sim1 - sim0) / (w1 - w0),
                   "points_per_min": len(ids) * 50_000 * 60 / args.interval}
            rows.append(row)
            print(f"N={n:4d} register {register_s:6.1f} s (node {registering['register_node_busy']:.0%} busy: ours "
                  f"{registering['register_runtime_cores']:.2f} cores, simulator {registering['register_simulator_cores']:.2f})  actor USS {mem['uss_mb']:.0f} MB PSS {mem['pss_mb']:.0f} MB  "
                  f"runtime CPU {row['runtime_cpu_cores']:.2f} cores  on time {on_time:.0%}  pending {pending}  "
                  f"max window {max(durations):.2f} s  node mem {row['node_mem_percent']:.0f}%  "
                  f"failed registrations {row['register_failures']} (registered all the same: {unreported})")
            print("        runtime CPU by part (cores): " + ", ".join(f"{k} {v:.3f}" for k, v in by_part.items())
                  + f"; per storage actor {row['storage_actor_cpu_ms_per_s']:.1f} ms/s")
            result = summary(args.interval, rows)
            write_result(args.out, result)   # after every step: a run stopped later keeps what it measured
            if on_time < 0.95:
                print(f"N={n} does not keep up; stopping")
                break
        result = summary(args.interval, rows)
        print("wrote", write_result(args.out, result))
        return result
    finally:
        # a bench's teardown: the arrays go with the simulator, so the actors are killed rather
        # than removed one by one (removing 200 storages of an overloaded node took ~15 min)
        from rayactors.naming import get_storage_actor, live_storage_actor_ids
        stop_supervisor(client.cfg, timeout_s=0)
        for sid in live_storage_actor_ids(client.cfg.namespace):   # also any the client never heard of
            try:
                ray.kill(get_storage_actor(sid, client.cfg.namespace), no_restart=True)
            except ValueError:
                pass
        sim.stop()


if __name__ == "__main__":
    main()
