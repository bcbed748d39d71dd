"""The closest design, measured: many storages' session cores in one Ray actor (a session host).

bench/README.md finds memory, idle CPU, density and busy registration bound by a cost per
process, and names the closest design that would meet them: a host actor holding the session
cores of many storages. This prototype puts numbers on that. It is not the product (DESIGN.md:
one named actor per storage) and not in ``make bench``: ``python -m bench.host_density``.

The host holds real ``SessionCore``s driving the real simulator REST driver, loads the same
libraries as a storage actor (pandas blocked the same way) and does a storage's work the same
way: a connect (login, storage check), a sync (every list method through the gate; the rows
dropped where a storage actor sends them to the supervisor, then memory released) and
collection windows (``collect_perf_metrics`` through the gate, ``metrics_to_table``, one
Parquet file per window). Side by side in one run, against 5k-volume x 10-metric arrays:

- memory per storage: the host's USS and PSS empty, then with ``--storages`` storages connected
  and synced ``1 + --syncs`` times, then after ``--windows`` 50k-point windows each, divided by
  the storages; next to real storage actors after the same syncs (idle) and windows (collecting);
- idle CPU per storage: the host's CPU per second while its storages idle, divided by them;
  a real storage actor's and a bare Ray actor's over the same seconds;
- register to first call: the host connects a new storage, starts its sync and answers its
  first ``list_volumes``, alone and while ``--others`` others connect, alternated round by round
  with our registration (``discover_storage`` and the first ``list_volumes``: a new actor process
  each), with the node's CPU per registration. The host's figure has none of the supervisor's
  work (registry row, ownership), which ours includes.

``--scale N`` measures the scale target instead (``results/host_density_scale.json``): N
collecting storages in hosts of ``--per-host``, each running our ``CollectionScheduler`` as a
storage actor does, registered 8 at a time, then watched for ``--watch`` windows: windows
missed, the runtime's CPU counted as ``bench.scale`` counts it, memory per storage.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

import rayactors  # noqa: F401
import ray

from .actor_memory import pss_mb, uss_mb
from .common import cpu_between, stats, write_result
from .idle_cpu import cpu_s
from .register import cpu_by_process, register_and_call
from .scale import METRICS10

SIZES = {"volumes": 5000, "disks": 0, "ports": 0}


@ray.remote(num_cpus=0.001, max_concurrency=64)
class SessionHost:
    """Session cores of many storages in one worker process (the prototype)."""

    def __init__(self, metrics_root: str) -> None:
        from rayactors import lean
        lean.block_unused()
        import rayactors.session_actor  # noqa: F401  - the libraries a storage actor loads
        from rayactors.metrics.sink import ParquetSink
        self.cores: dict[str, Any] = {}
        self.schedulers: dict[str, Any] = {}
        self.sink = ParquetSink(metrics_root)
        self._lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def connect(self, storage_id: str, access: dict) -> None:
        from drivers import load_driver_class
        from rayactors.session_core import SessionCore

        def build(a: Any) -> Any:
            return load_driver_class(a.vendor, a.model)(**{**a.reveal(), "storage_id": storage_id})
        core = SessionCore(storage_id, build)
        core.connect(access, None, 1, "register")
        with self._lock:
            self.cores[storage_id] = core

    def list_volumes(self, storage_id: str) -> int:
        return len(self.cores[storage_id].call("list_volumes"))

    def sync(self, storage_id: str) -> int:
        """What a storage actor's sync does, the rows dropped instead of sent to the supervisor."""
        from drivers import LIST_METHODS, resource_result
        from rayactors import lean
        core, rows = self.cores[storage_id], 0

        class Proxy:
            def __getattr__(self, name: str) -> Callable[..., Any]:
                return lambda context, *a, **kw: core.call(name, a, kw, "bulk")
        for method in LIST_METHODS:
            res = resource_result(Proxy(), method)
            rows += len(res.rows) if res.status == "supported" else 0
        lean.release_memory()
        return rows

    def _table(self, storage_id: str, start_ms: int, end_ms: int) -> Any:
        """A window's points through the gate, as a table: what a storage actor's collect does."""
        from drivers.arrow_schema import metrics_to_table, validate_table
        result = self.cores[storage_id].call("collect_perf_metrics",
                                             (storage_id, {"volume": METRICS10}, start_ms, end_ms), {}, "bulk")
        return metrics_to_table(result, storage_id) if isinstance(result, list) else validate_table(result)

    def window(self, storage_id: str, start_ms: int, end_ms: int) -> int:
        """One collection window as the scheduler makes it: collect, to Arrow, to Parquet."""
        from rayactors import lean
        table = self._table(storage_id, start_ms, end_ms)
        self.sink.write_window(storage_id, start_ms, end_ms, table)
        lean.release_memory()
        return table.num_rows

    def collect(self, storage_id: str, interval_s: int, supervisor_name: str, namespace: str) -> None:
        """Start the storage's collection: our ``CollectionScheduler``, set up as a storage actor
        sets it up (its windows through the gate, to Arrow, to Parquet; each tick reported to
        the supervisor, which finds no registry row for a hosted storage and writes nothing)."""
        from rayactors.scheduler import CollectionScheduler
        from rayactors.session_state import SessionState
        core = self.cores[storage_id]
        caps = core.call("get_capabilities") or {}
        supervisor = ray.get_actor(supervisor_name, namespace=namespace)
        scheduler = CollectionScheduler(
            storage_id, interval_s=interval_s, overlap_s=0, sync_interval_s=3600,
            historic=bool(caps.get("is_historic", False)),
            retention_s=int(caps.get("performance_metric_retention_window") or 7200),
            resource_metrics={"volume": METRICS10}, collect=lambda start, end: self._table(storage_id, start, end), is_ready=lambda: core.state == SessionState.READY, sync=lambda: self.sync(storage_id),
            supervisor=lambda: supervisor, sink=self.sink,
            record=lambda *state: ray.get(supervisor.record_collection.remote(storage_id, core.epoch, *state), timeout=30), synced_at=time.time)
        with self._lock:
            self.schedulers[storage_id] = scheduler
        scheduler.start()

    def collection_stats(self) -> dict[str, dict]:
        return {sid: s.snapshot() for sid, s in list(self.schedulers.items())}

    def remove(self, storage_id: str) -> None:
        with self._lock:
            core, scheduler = self.cores.pop(storage_id), self.schedulers.pop(storage_id, None)
        if scheduler is not None:
            scheduler.stop()
        core.close()

    def remove_all(self) -> None:
        for sid in list(self.cores):
            self.remove(sid)


@ray.remote(num_cpus=0.001)
class Bare:
    def pid(self) -> int:
        return os.getpid()


@contextlib.contextmanager
def cluster(hosts: int) -> Iterator[tuple[Any, Any, list[Any]]]:
    """The simulator, our runtime (supervisor, storage actors) and ``hosts`` session hosts; all
    stopped after."""
    from drivers.simulator.control import SimulatorProcess
    from rayactors import start, stop_supervisor
    data_dir = tempfile.mkdtemp(prefix="bench-host-")
    sim = SimulatorProcess()
    client = start(namespace=f"bench-host-{os.getpid()}", data_dir=data_dir, sync_interval_s=3600, perf_overlap_s=0)
    made = [SessionHost.remote(os.path.join(data_dir, "host-metrics")) for _ in range(hosts)]
    try:
        yield sim, client, made
    finally:
        for host in made:
            try:
                ray.get(host.remove_all.remote(), timeout=120)
            except Exception:  # the cluster goes anyway
                pass
        stop_supervisor(client.cfg, timeout_s=0)
        sim.stop()


def each(fn: Callable[[Any], Any], items: list[Any], threads: int) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def memory(pid: int) -> dict[str, float]:
    return {"uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid)}


def per_storage(host: dict[str, float], empty: dict[str, float], n: int) -> dict[str, float]:
    """The host's memory per storage, with and without its empty share."""
    return {"uss_mb": host["uss_mb"] / n, "pss_mb": host["pss_mb"] / n,
            "uss_added_mb": (host["uss_mb"] - empty["uss_mb"]) / n}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.host_density")
    ap.add_argument("--storages", type=int, default=25, help="storages in the host")
    ap.add_argument("--syncs", type=int, default=8, help="syncs after the first, before the idle figures")
    ap.add_argument("--windows", type=int, default=3, help="50k-point windows per storage before the collecting figures")
    ap.add_argument("--seconds", type=float, default=20.0, help="idle CPU sampling")
    ap.add_argument("--samples", type=int, default=6, help="registrations timed per shape and condition")
    ap.add_argument("--others", type=int, default=8, help="registrations running next to each busy sample")
    ap.add_argument("--scale", type=int, default=0,
                    help="instead: this many collecting storages in hosts of --per-host (the scale target)")
    ap.add_argument("--per-host", type=int, default=25)
    ap.add_argument("--interval", type=int, default=60, help="--scale: collection interval (s)")
    ap.add_argument("--watch", type=int, default=10, help="--scale: windows watched after the registrations")
    ap.add_argument("--out", default=None, help="results/<out>.json (default host_density, or host_density_scale)")
    args = ap.parse_args(argv)
    if args.scale:
        return scale(args)
    from drivers.simulator.control import rest_access
    out: dict[str, Any] = {"storages": args.storages, "syncs": 1 + args.syncs, "windows": args.windows,
                           "others": args.others, "volumes": SIZES["volumes"], "metrics": len(METRICS10)}
    with cluster(1) as (sim, client, [host]):
        bare = Bare.remote()
        host_pid, bare_pid = ray.get([host.pid.remote(), bare.pid.remote()])
        time.sleep(2)
        empty = memory(host_pid)
        # -- memory: the host's storages and two real storage actors, the same work each -----
        def access(interval: int) -> dict:
            return rest_access(sim.add_array(perf_interval=interval, sizes=SIZES),
                               resource_metrics={"volume": METRICS10}, collect_interval=interval)
        hosted = [(f"h{i}", access(60)) for i in range(args.storages)]
        idle_sid = client.discover_storage(None, access(3600))["id"]     # its first window an hour away
        busy_sid = client.discover_storage(None, access(20))["id"]       # collects every 20 s
        each(lambda h: ray.get(host.connect.remote(*h)), hosted, 8)
        for _ in range(1 + args.syncs):
            each(lambda h: ray.get(host.sync.remote(h[0])), hosted, 4)
        for _ in range(args.syncs):
            client.sync(idle_sid)
        time.sleep(5)
        idle_pid = client.storage_state(idle_sid)["pid"]
        out["memory"] = {"host_empty": empty, "host_idle": memory(host_pid), "storage_actor_idle": memory(idle_pid),
                         "bare_actor": memory(bare_pid)}
        out["memory"]["per_storage_idle"] = per_storage(out["memory"]["host_idle"], empty, args.storages)
        # -- idle CPU, side by side over the same seconds ------------------------------------
        pids = {"host": host_pid, "storage_actor": idle_pid, "bare_actor": bare_pid}
        c0, t0 = {k: cpu_s(p) for k, p in pids.items()}, time.monotonic()
        time.sleep(args.seconds)
        dt = time.monotonic() - t0
        cpu = {k: (cpu_s(p) - c0[k]) / dt * 1000 for k, p in pids.items()}
        out["idle_cpu_ms_per_s"] = {**cpu, "host_per_storage": cpu["host"] / args.storages}
        # -- collecting --------------------------------------------------------------------
        end = int(time.time() // 60 * 60 * 1000)
        for w in range(args.windows):
            stop = end - (args.windows - 1 - w) * 60000
            points = each(lambda h: ray.get(host.window.remote(h[0], stop - 60000, stop)), hosted, 4)
        out["points_per_window"] = points[0]
        deadline = time.monotonic() + 20 * (args.windows + 3) + 30
        while client.collection_stats(busy_sid).get("windows_collected", 0) < args.windows \
                and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(2)
        out["memory"]["host_collecting"] = memory(host_pid)
        out["memory"]["storage_actor_collecting"] = {
            **memory(client.storage_state(busy_sid)["pid"]),
            "windows": client.collection_stats(busy_sid).get("windows_collected", 0)}
        out["memory"]["per_storage_collecting"] = per_storage(out["memory"]["host_collecting"], empty, args.storages)
        for sid in (idle_sid, busy_sid):
            client.remove_storage(None, sid)
        # -- register to first call, host and ours alternated --------------------------------
        arrays = [sim.add_array(sizes=SIZES) for _ in range(args.others + 1)]
        seq = iter(range(10 ** 6))

        def host_register(arr: dict) -> str:
            sid = f"r{next(seq)}"
            ray.get(host.connect.remote(sid, rest_access(arr)))
            host.sync.remote(sid)                     # as a registration starts the first sync
            return sid

        def host_first_call(arr: dict) -> tuple[float, str]:
            t = time.perf_counter()
            sid = host_register(arr)
            ray.get(host.list_volumes.remote(sid))
            return time.perf_counter() - t, sid

        def ours_first_call(arr: dict) -> tuple[float, str]:
            _registered, first, sid = register_and_call(client, rest_access(arr))
            return first, sid

        shapes = {"host": (host_first_call, host_register, lambda sid: ray.get(host.remove.remote(sid))),
                  "ours": (ours_first_call, lambda arr: client.discover_storage(None, rest_access(arr))["id"],
                           lambda sid: client.remove_storage(None, sid))}
        firsts: dict[str, dict[str, list[float]]] = {s: {"idle": [], "busy": []} for s in shapes}
        cpu_per: dict[str, list[float]] = {s: [] for s in shapes}
        for _ in range(args.samples):
            for shape, (first_call, _register, remove) in shapes.items():
                took, sid = first_call(arrays[0])
                firsts[shape]["idle"].append(took)
                remove(sid)
        for _ in range(args.samples):
            for shape, (first_call, register, remove) in shapes.items():
                cpu0 = cpu_by_process()[0]
                others: list[str] = []
                threads = [threading.Thread(target=lambda a: others.append(register(a)), args=(a,))
                           for a in arrays[1:]]
                for t in threads:
                    t.start()
                time.sleep(0.05)
                took, sid = first_call(arrays[0])
                for t in threads:
                    t.join()
                firsts[shape]["busy"].append(took)
                cpu_per[shape].append(cpu_between(cpu0, cpu_by_process()[0]) / (len(others) + 1))
                for s in [sid, *others]:
                    remove(s)
        out["register"] = {shape: {"idle_p50_s": stats(f["idle"])["median"], "busy_p50_s": stats(f["busy"])["median"],
                                   "busy_max_s": stats(f["busy"])["max"],
                                   "cpu_per_registration_p50_s": stats(cpu_per[shape])["median"]}
                           for shape, f in firsts.items()}
        report(out)
        print("wrote", write_result(args.out or "host_density", out))
        return out


def scale(args: argparse.Namespace) -> dict:
    """The scale target in hosts: ``--scale`` storages (5k LUNs x 10 metrics, a window every
    ``--interval`` s, registered 8 at a time), watched for ``--watch`` windows after the last
    registration: windows missed, the runtime's CPU (every Ray process of this run, by process
    tree, as ``bench.scale`` counts it), memory per storage, registration time."""
    import math
    import psutil
    from drivers.simulator.control import rest_access
    from .scale import node_busy, runtime_cpu_seconds, tree_cpu_seconds
    with cluster(math.ceil(args.scale / args.per_host)) as (sim, client, hosts):
        out: dict[str, Any] = {"storages": args.scale, "per_host": args.per_host, "hosts": len(hosts),
                               "interval_s": args.interval, "windows_watched": args.watch}
        pids = ray.get([h.pid.remote() for h in hosts])
        accesses = [rest_access(sim.add_array(perf_interval=args.interval, sizes=SIZES),
                                resource_metrics={"volume": METRICS10}) for _ in range(args.scale)]
        exclude = {sim.proc.pid}

        def register(i: int) -> None:
            host, sid = hosts[i % len(hosts)], f"s{i}"
            ray.get(host.connect.remote(sid, accesses[i]))
            host.sync.remote(sid)                     # as a registration starts the first sync
            ray.get(host.collect.remote(sid, args.interval, client.cfg.supervisor_name, client.cfg.namespace))
        cpu0, node0, t0 = runtime_cpu_seconds(exclude), psutil.cpu_times(), time.perf_counter()
        each(register, list(range(args.scale)), 8)
        out["register_s"] = time.perf_counter() - t0
        out["register_runtime_cores"] = cpu_between(cpu0, runtime_cpu_seconds(exclude)) / out["register_s"]
        out["register_node_busy"] = node_busy(node0, psutil.cpu_times())

        def windows() -> dict[str, int]:
            return {sid: s["windows_collected"] for h in hosts for sid, s in ray.get(h.collection_stats.remote()).items()}
        before = windows()
        cpu0, sim0, t0 = runtime_cpu_seconds(exclude), tree_cpu_seconds(sim.proc.pid), time.perf_counter()
        time.sleep(args.interval * args.watch + args.interval * 0.6)
        cpu1, sim1, dt = runtime_cpu_seconds(exclude), tree_cpu_seconds(sim.proc.pid), time.perf_counter() - t0
        after = {sid: s for h in hosts for sid, s in ray.get(h.collection_stats.remote()).items()}
        got = [after[sid]["windows_collected"] - before.get(sid, 0) for sid in after]
        mem = [psutil.Process(p).memory_full_info() for p in pids]
        out.update({
            "windows_missed": sum(max(0, args.watch - g) for g in got),
            "windows_pending": sum(s["windows_pending"] for s in after.values()),
            "max_collection_s": max(s["last_duration_s"] or 0 for s in after.values()),
            "points_per_window": statistics.median(s["points_collected"] / max(1, s["windows_collected"])
                                                   for s in after.values()),
            "runtime_cpu_cores": cpu_between(cpu0, cpu1) / dt,
            "runtime_cpu_percent_of_node": 100 * cpu_between(cpu0, cpu1) / dt / psutil.cpu_count(),
            "simulator_cpu_cores": (sim1 - sim0) / dt,
            "uss_mb_per_storage": sum(m.uss for m in mem) / args.scale / 1e6,
            "pss_mb_per_storage": sum(m.pss for m in mem) / args.scale / 1e6,
            "host_uss_mb": [m.uss / 1e6 for m in mem], "node_mem_percent": psutil.virtual_memory().percent})
        print(f"N={args.scale} in {len(hosts)} hosts: registered in {out['register_s']:.1f} s (node "
              f"{out['register_node_busy']:.0%} busy); {out['windows_missed']} of {args.scale * args.watch} windows "
              f"missed ({out['points_per_window']:.0f} points each), {out['windows_pending']} pending, slowest window {out['max_collection_s']:.2f} s; runtime CPU "
              f"{out['runtime_cpu_cores']:.2f} cores = {out['runtime_cpu_percent_of_node']:.0f}% of the node "
              f"(simulator {out['simulator_cpu_cores']:.2f}); USS {out['uss_mb_per_storage']:.1f} MB, PSS "
              f"{out['pss_mb_per_storage']:.1f} MB per storage; node memory {out['node_mem_percent']:.0f}%")
        print("wrote", write_result(args.out or "host_density_scale", out))
        return out


def report(out: dict) -> None:
    m, n = out["memory"], out["storages"]
    for stage in ("idle", "collecting"):
        per, actor = m[f"per_storage_{stage}"], m[f"storage_actor_{stage}"]
        print(f"{stage:>10}: host {n} storages: USS {per['uss_mb']:.1f} MB, PSS {per['pss_mb']:.1f} MB per storage "
              f"({per['uss_added_mb']:.1f} MB USS added by each); a storage actor: USS {actor['uss_mb']:.1f}, "
              f"PSS {actor['pss_mb']:.1f} MB")
    print(f"      host empty: USS {m['host_empty']['uss_mb']:.1f} MB; a bare Ray actor: USS {m['bare_actor']['uss_mb']:.1f}, "
          f"PSS {m['bare_actor']['pss_mb']:.1f} MB")
    c = out["idle_cpu_ms_per_s"]
    print(f"  idle CPU: host {c['host']:.1f} ms/s = {c['host_per_storage']:.2f} per storage; a storage actor "
          f"{c['storage_actor']:.1f}, a bare Ray actor {c['bare_actor']:.1f} ms/s")
    for shape, r in out["register"].items():
        print(f"  register to first call, {shape}: idle {r['idle_p50_s']:.2f} s p50, while {out.get('others', 8)} others "
              f"register {r['busy_p50_s']:.2f} s p50 (max {r['busy_max_s']:.2f}), {r['cpu_per_registration_p50_s']:.2f} "
              f"CPU s per registration")


if __name__ == "__main__":
    main()
