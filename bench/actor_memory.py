"""What one storage actor's memory is made of (the scale benchmark's "what dominates").

USS of a worker process, stage by stage, each in its own fresh actor so nothing carries over:
a bare Ray actor; the same after importing each dependency our actor needs (cumulative); then
a real storage actor on a simulated array with 5k LUNs x 10 metrics: connected and synced once,
idle after more syncs (a registered storage syncs every ``sync_interval_s``: its steady state),
and after it collected windows.
The storage rows are the ones a process has open: modules, the driver session, arenas.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import tempfile
import time

import psutil

import rayactors  # noqa: F401
import ray
from rayactors.ray_env import NODE_ENV

from .common import init_local_ray, write_result
from .scale import METRICS10

# cumulative: each stage imports its modules on top of the previous ones
# cumulative, in the order a REST storage actor loads them (an SSH one adds paramiko, ~10 MB)
IMPORT_STAGES = [("pyarrow + parquet", ["pyarrow", "pyarrow.compute", "pyarrow.parquet", "pyarrow.fs"]),
                 ("pydantic + drivers", ["pydantic", "drivers", "drivers.models"]),
                 ("requests + numpy (REST driver)", ["requests", "numpy", "drivers.rest_driver"]),
                 ("rayactors (session actor)", ["rayactors.session_actor"])]
#: pyarrow imports pandas on its first pa.array()/pa.table() when it is installed; storage
#: actors block it (rayactors/lean.py). Measured apart: what it would add.
PANDAS = ("pandas (blocked in storage actors)", ["pandas"])


def uss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_full_info().uss / 1e6


@ray.remote(num_cpus=0.001)
class Probe:
    """A bare actor that imports what it is told, then reports its own USS."""

    def load(self, modules: list[str], delfin_drivers: int = -1) -> dict:
        """``delfin_drivers``: -1 none of Delfin, 0 its config only, n its first n drivers."""
        for m in modules:
            importlib.import_module(m)
        if delfin_drivers >= 0:
            from drivers.delfin_host import delfin_entry_points, init_delfin
            init_delfin()
            names = ["pure flasharray"] + sorted(n for n in delfin_entry_points() if n != "pure flasharray")
            for name in names[:delfin_drivers]:
                delfin_entry_points()[name].load()
        gc.collect()
        return {"pid": os.getpid()}

    def allocator(self) -> dict:
        """The malloc this worker runs on and its settings (``RAY_LD_PRELOAD_ON_WORKERS=1``
        gives workers the jemalloc Ray starts its own processes with)."""
        with open("/proc/self/maps") as fh:
            jemalloc = "libjemalloc" in fh.read()
        return {"malloc": "jemalloc" if jemalloc else "glibc",
                **{k: os.environ[k] for k in (*NODE_ENV, "MALLOC_CONF") if k in os.environ}}


def import_profile() -> list[dict]:
    rows, loaded = [], []
    for label, modules in [("bare Ray actor", [])] + IMPORT_STAGES:
        loaded = loaded + modules
        probe = Probe.remote()
        pid = ray.get(probe.load.remote(loaded))["pid"]
        time.sleep(0.5)
        rows.append({"stage": label, "uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid)})
        ray.kill(probe)
    probe = Probe.remote()
    pid = ray.get(probe.load.remote(loaded + PANDAS[1]))["pid"]
    time.sleep(0.5)
    pandas_mb = uss_mb(pid) - rows[-1]["uss_mb"]
    ray.kill(probe)
    return rows, pandas_mb


def delfin_profile() -> list[dict]:
    """What SODA Delfin's drivers add to a storage actor: its config (oslo + delfin.common), the
    one driver a storage uses (an actor imports only that one), and all 15 for comparison.
    Each on top of our own stack without pandas, each in a fresh actor."""
    ours = [m for _label, mods in IMPORT_STAGES for m in mods]
    rows = []
    for label, n in [("our storage actor stack (no pandas)", -1), ("+ Delfin config (oslo, delfin.common)", 0),
                     ("+ one Delfin vendor driver (pure flasharray)", 1), ("+ all 15 Delfin drivers", 15)]:
        probe = Probe.remote()
        pid = ray.get(probe.load.remote(ours, n))["pid"]
        time.sleep(0.5)
        rows.append({"stage": label, "uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid)})
        ray.kill(probe)
    for r in rows[1:]:
        r["over_ours_mb"] = r["uss_mb"] - rows[0]["uss_mb"]
    return rows


def pss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_full_info().pss / 1e6


def storage_profile(windows: int, interval: int, syncs: int) -> tuple[list[dict], dict]:
    """A real storage actor on a 5k-LUN array: idle (registered, synced once and then ``syncs``
    times more, its first window an hour away) and collecting (50k points a window every
    ``interval`` s), USS and PSS."""
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start, stop_supervisor
    sim = SimulatorProcess()
    client = start(namespace=f"bench-mem-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-mem-"),
                   sync_interval_s=3600, perf_overlap_s=0)
    rows, figures = [], {}
    try:
        sizes = {"volumes": 5000, "disks": 0, "ports": 0}
        idle_arr, busy_arr = sim.add_array(perf_interval=3600, sizes=sizes), sim.add_array(perf_interval=interval, sizes=sizes)
        idle = client.discover_storage(None, rest_access(idle_arr, resource_metrics={"volume": METRICS10},
                                                         collect_interval=3600))["id"]
        busy = client.discover_storage(None, rest_access(busy_arr, resource_metrics={"volume": METRICS10}))["id"]
        time.sleep(5)
        pid = client.storage_state(idle)["pid"]
        rows.append({"stage": "storage actor: connected + synced once (5k volumes)",
                     "uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid)})
        for _ in range(syncs):
            client.sync(idle)
        time.sleep(5)
        figures["idle"] = {"uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid), "syncs": 1 + syncs}
        rows.append({"stage": f"storage actor: idle after {1 + syncs} syncs", **figures["idle"]})
        deadline = time.monotonic() + interval * (windows + 3) + 30
        while client.collection_stats(busy).get("windows_collected", 0) < windows and time.monotonic() < deadline:
            time.sleep(1)
        pid = client.storage_state(busy)["pid"]
        got = client.collection_stats(busy).get("windows_collected", 0)
        figures["collecting"] = {"uss_mb": uss_mb(pid), "pss_mb": pss_mb(pid), "windows": got, "interval_s": interval}
        rows.append({"stage": f"storage actor: + {got} windows of 50k points", **figures["collecting"]})
        for sid in (idle, busy):
            client.remove_storage(None, sid)
    finally:
        stop_supervisor(client.cfg, timeout_s=0)
        sim.stop()
    return rows, figures


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=6, help="windows collected before the figure")
    ap.add_argument("--interval", type=int, default=20, help="seconds per 50k-point window (target: 60)")
    ap.add_argument("--syncs", type=int, default=8, help="syncs after the registration's before the idle figure")
    ap.add_argument("--out", default="actor_memory", help="results/<out>.json (another name keeps make bench's)")
    args = ap.parse_args(argv)
    started = not ray.is_initialized()
    if started:
        init_local_ray()
    try:
        probe = Probe.remote()
        allocator = ray.get(probe.allocator.remote())
        ray.kill(probe)
        imports, pandas_mb = import_profile()
        storage_rows, storage = storage_profile(args.windows, args.interval, args.syncs)
        rows = imports + storage_rows
        delfin = delfin_profile()
    finally:
        if started:
            ray.shutdown()
    prev = None
    for r in rows:
        r["delta_mb"] = r["uss_mb"] - prev if prev is not None else r["uss_mb"]
        prev = r["uss_mb"]
        print(f"{r['stage']:<50} USS {r['uss_mb']:6.1f} MB  ({r['delta_mb']:+.1f})  PSS {r['pss_mb']:6.1f} MB")
    for r in delfin:
        extra = f"  (+{r['over_ours_mb']:.1f} over ours)" if "over_ours_mb" in r else ""
        print(f"{r['stage']:<50} USS {r['uss_mb']:6.1f} MB  PSS {r['pss_mb']:6.1f} MB{extra}")
    print(f"{PANDAS[0]:<50} would add {pandas_mb:+.1f} MB USS")
    print(f"allocator of the workers: {allocator}")
    result = {"allocator": allocator, "stages": rows, "delfin": delfin, "storage": storage, "bare": rows[0],
              "pandas_would_add_mb": pandas_mb}
    print("wrote", write_result(args.out, result))
    return result


if __name__ == "__main__":
    main()
