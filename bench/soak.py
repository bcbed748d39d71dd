"""Fault soak: 20 storages collecting for 30 minutes while random faults hit 15 of them.

Five storages are the control group and never faulted; a prober calls them (``get_storage``,
one array round trip each) four times a second. The other fifteen get random faults, a few at
a time: array down, slow (latency above the driver's timeout), malformed answers, throttled
(503), password rotation at the array followed by an access-info update, kill -9 of the
storage actor, and every few minutes kill -9 of the supervisor. Every array answers in about
20 ms when healthy, like a real one on the same LAN.

What it reports (and the issue's target):

- windows lost: the scheduler's count, and every storage's Parquet checked for a missing or
  doubled window between its first and last (target 0; the arrays keep 2 h, far beyond the soak);
- sessions at the arrays: the peak per array during the run (target 1) and those still open
  after every storage is removed (target 0);
- control-group calls slower than 2x their baseline, the baseline being each storage's p99 in
  a fault-free warm-up of the same run (target 0); p50 and p99 before and during the faults;
- threads, RSS and USS of every storage actor and the supervisor, at the start and at the end;
- the node's CPU in the warm-up and during the faults: busy, idle, and stolen by the host (on a
  virtual machine, two runs of the same code differ by the host's steal more than anything).

Run: ``python -m bench.soak [--minutes 30] [--seed 1]``; not part of ``make bench``.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import rayactors  # noqa: F401  (loopback-only settings before ray)
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import ray

from .common import node_cpu, node_shares, stats, write_result

CONTROL, FAULTED = 5, 15
ARRAY_LATENCY_MS = 20.0
PERF_INTERVAL_S = 10
SERIES = {"volume": ["iops", "throughput"], "controller": ["cpuUsage"]}
HEALTHY = {"down": False, "latency_ms": ARRAY_LATENCY_MS, "malformed": False, "throttle": False}
ARRAY_FAULTS = {"down": {"down": True}, "slow": {"latency_ms": 3000}, "malformed": {"malformed": True},
                "throttled": {"throttle": 503}}
KINDS = list(ARRAY_FAULTS) + ["rotation", "kill_actor"]


@dataclass
class Soak:
    client: Any
    sim: Any
    rng: random.Random
    arrays: dict[str, dict] = field(default_factory=dict)       # storage id -> simulated array
    passwords: dict[str, str] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)                 # storages under a fault right now
    events: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, kind: str, sid: str = "", **more: Any) -> None:
        with self.lock:
            self.events.append({"t": round(time.time(), 1), "fault": kind, "storage": sid[:8], **more})

    def retry(self, what: str, fn: Callable[[], Any], seconds: float = 120) -> Any:
        """Control calls made by the soak itself ride over a supervisor being restarted."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - reported, then retried
                if time.monotonic() > deadline:
                    self.errors.append(f"{what}: {type(exc).__name__}: {exc}")
                    return None
                time.sleep(1)

    def fault(self, sid: str, kind: str, hold_s: float) -> None:
        """One fault on one storage, held, then healed; runs in its own thread."""
        name = self.arrays[sid]["name"]
        try:
            self.log(kind, sid, hold_s=round(hold_s))
            if kind in ARRAY_FAULTS:
                self.sim.faults(name, **{**HEALTHY, **ARRAY_FAULTS[kind]})
                time.sleep(hold_s)
                self.sim.faults(name, **HEALTHY)
            elif kind == "rotation":
                new = f"pw-{self.rng.randrange(1 << 30):x}"
                self.sim.rotate_password(name, new)
                self.sim.expire_sessions(name)
                time.sleep(hold_s)
                self.retry("update_access_info", lambda: self.client.update_access_info(
                    None, {"storage_id": sid, "rest": {"password": new}}))
                self.passwords[sid] = new
            elif kind == "kill_actor":
                pid = self.retry("state", lambda: self.client.storage_state(sid)["pid"])
                if pid:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(hold_s)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"{kind} on {sid[:8]}: {type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.busy.discard(sid)


def prober(client: Any, sids: list[str], stop: threading.Event, out: dict[str, list[tuple[float, float]]],
           failures: list[str]) -> None:
    """Calls the control group round robin; (wall time, seconds) per call."""
    i = 0
    while not stop.is_set():
        sid = sids[i % len(sids)]
        t0 = time.perf_counter()
        try:
            client.get_storage(None, sid)
            out[sid].append((time.time(), time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - a failed call to a healthy storage is a finding
            failures.append(f"{sid[:8]}: {type(exc).__name__}: {exc}")
        i += 1
        stop.wait(0.25 / len(sids))


def process_figures(pid: int) -> dict[str, float]:
    p = psutil.Process(pid)
    mem = p.memory_full_info()
    return {"pid": pid, "threads": p.num_threads(), "rss_mb": round(mem.rss / 1e6, 1), "uss_mb": round(mem.uss / 1e6, 1)}


def actors(client: Any, sids: list[str], supervisor: Any) -> dict[str, dict]:
    out = {sid[:8]: process_figures(client.storage_state(sid)["pid"]) for sid in sids}
    out["supervisor"] = process_figures(ray.get(supervisor.ping.remote(), timeout=60)["pid"])
    return out


def window_check(table: pa.Table, step_ms: int) -> dict[str, int]:
    """Missing and doubled windows between a storage's first and last window on disk."""
    if table.num_rows == 0:
        return {"windows": 0, "missing": 0, "doubled": 0}
    keys = pa.table({"r": table.column("resource_id").cast(pa.string()),
                     "m": table.column("metric").cast(pa.string()),
                     "t": table.column("timestamp").cast(pa.int64())})
    counts = keys.group_by(["r", "m", "t"]).aggregate([("t", "count")])
    doubled = pc.sum(pc.greater(counts.column("t_count"), 1)).as_py() or 0
    stamps = sorted(set(keys.column("t").to_pylist()))
    expected = (stamps[-1] - stamps[0]) // step_ms + 1
    return {"windows": len(stamps), "missing": expected - len(stamps), "doubled": doubled}



def last_fault(events: list[dict], t: float) -> dict:
    """The fault that started last before ``t`` (a slow call's suspect) and how long before."""
    before = [e for e in events if e["t"] <= t]
    if not before:
        return {"after_fault": None}
    e = max(before, key=lambda e: e["t"])
    return {"after_fault": e["fault"], "fault_storage": e.get("storage"), "fault_age_s": round(t - e["t"], 1)}


def at_array(slow_requests: list[dict], t_end: float, ms: float) -> dict:
    """What the array itself took of a slow call that ended at ``t_end``: the slowest request
    it served over its injected latency within the call (None: none was slow there)."""
    t_start = t_end - ms / 1000 - 0.005
    inside = [r for r in slow_requests if t_start <= r["t"] <= t_end]
    return {"array_over_ms": max((r["over_ms"] for r in inside), default=None)}


def main(argv: Optional[list[str]] = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="how long faults are injected")
    ap.add_argument("--warmup", type=float, default=120.0, help="fault-free seconds that set the baseline")
    ap.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    ap.add_argument("--max-concurrent", type=int, default=5, help="storages under a fault at once")
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import metrics, start
    from rayactors.naming import get_supervisor

    data_dir = tempfile.mkdtemp(prefix="bench-soak-")
    sim = SimulatorProcess()
    client = start(namespace=f"bench-soak-{os.getpid()}", data_dir=data_dir, backoff_base_s=0.5, backoff_cap_s=10,
                   perf_overlap_s=0, sync_interval_s=300)
    supervisor = get_supervisor(client.cfg.supervisor_name, client.cfg.namespace)
    soak = Soak(client, sim, random.Random(args.seed))
    stop, latencies, probe_failures = threading.Event(), {}, []
    try:
        for i in range(CONTROL + FAULTED):
            arr = sim.add_array(perf_interval=PERF_INTERVAL_S, sizes={"volumes": 200, "controllers": 2})
            sim.faults(arr["name"], **HEALTHY)
            sid = client.discover_storage(None, rest_access(arr, resource_metrics=SERIES, timeout=2))["id"]
            soak.arrays[sid], soak.passwords[sid] = arr, arr["users"]["admin"]
        sids = list(soak.arrays)
        control, faulted = sids[:CONTROL], sids[CONTROL:]
        latencies = {sid: [] for sid in control}
        probe = threading.Thread(target=prober, args=(client, control, stop, latencies, probe_failures), daemon=True)
        probe.start()
        cpu_warmup = node_cpu()
        time.sleep(args.warmup)
        fault_start, cpu_faults = time.time(), node_cpu()
        start_figures = actors(client, sids, supervisor)
        print(f"warm-up done; faults for {args.minutes} min", flush=True)

        deadline, next_supervisor_kill = time.monotonic() + args.minutes * 60, time.monotonic() + 240
        threads: list[threading.Thread] = []
        while time.monotonic() < deadline:
            if time.monotonic() > next_supervisor_kill:
                pid = soak.retry("ping", lambda: ray.get(supervisor.ping.remote(), timeout=30)["pid"])
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    soak.log("kill_supervisor", pid=pid)
                next_supervisor_kill = time.monotonic() + soak.rng.uniform(180, 360)
            with soak.lock:
                idle = [s for s in faulted if s not in soak.busy]
                room = args.max_concurrent - len(soak.busy)
            if idle and room > 0:
                sid = soak.rng.choice(idle)
                with soak.lock:
                    soak.busy.add(sid)
                t = threading.Thread(target=soak.fault, args=(sid, soak.rng.choice(KINDS), soak.rng.uniform(15, 60)),
                                     daemon=True)
                t.start()
                threads.append(t)
            time.sleep(soak.rng.uniform(2, 8))
        for t in threads:
            t.join()
        fault_end, cpu_end = time.time(), node_cpu()
        print("faults over; waiting for backfill", flush=True)

        def caught_up() -> bool:
            got = [soak.retry("stats", lambda s=s: client.collection_stats(s), 30) or {} for s in sids]
            return all(g.get("windows_pending") == 0 and (g.get("last_end") or 0) >= fault_end * 1000 for g in got)
        settle = time.monotonic()
        while not caught_up() and time.monotonic() - settle < 300:
            time.sleep(5)
        stop.set()
        probe.join()
        end_figures = actors(client, sids, supervisor)
        collection = {s[:8]: client.collection_stats(s) for s in sids}
        peaks = {soak.arrays[s]["name"]: sim.stats(soak.arrays[s]["name"])["peak_sessions"] for s in sids}
        windows = {s[:8]: window_check(metrics.read(storage_ids=[s], root=client.cfg.metrics_root),
                                       PERF_INTERVAL_S * 1000) for s in sids}
        array_slow = {s: sim.slow_requests(soak.arrays[s]["name"]) for s in control}
        for s in sids:
            soak.retry("remove", lambda s=s: client.remove_storage(None, s))
        time.sleep(5)
        left_open = {a["name"]: sim.stats(a["name"])["active_sessions"] for a in soak.arrays.values()}

        baseline, during, slow = {}, {}, {}
        for sid, samples in latencies.items():
            before = [d for t, d in samples if t < fault_start]
            after = [d for t, d in samples if fault_start <= t <= fault_end]
            baseline[sid[:8]], during[sid[:8]] = stats(before), stats(after)
            slow[sid[:8]] = sum(d > 2 * baseline[sid[:8]]["p99"] for d in after)
        slow_list = [{"t": round(t, 1), "storage": sid[:8], "ms": round(d * 1000, 1), **last_fault(soak.events, t),
                      **at_array(array_slow[sid], t, d * 1000)}
                     for sid, samples in latencies.items() for t, d in samples
                     if fault_start <= t <= fault_end and d > 2 * baseline[sid[:8]]["p99"]]
        kinds = {k: sum(e["fault"] == k for e in soak.events) for k in KINDS + ["kill_supervisor"]}
        out = {
            "minutes": args.minutes, "seed": args.seed, "storages": len(sids), "control_group": CONTROL,
            "array_latency_ms": ARRAY_LATENCY_MS, "perf_interval_s": PERF_INTERVAL_S,
            "faults": kinds,
            # the node's CPU, warm-up and faults: the host's steal slows every call of a run alike
            "node_cpu_pct": {"baseline": node_shares(cpu_warmup, cpu_faults), "during": node_shares(cpu_faults, cpu_end)},
            "settle_s": round(time.monotonic() - settle),
            "windows_lost_reported": sum(c.get("windows_lost", 0) for c in collection.values()),
            "windows_missing_on_disk": sum(w["missing"] for w in windows.values()),
            "windows_doubled_on_disk": sum(w["doubled"] for w in windows.values()),
            "windows_on_disk": sum(w["windows"] for w in windows.values()),
            "peak_sessions_max": max(peaks.values()), "sessions_open_after_remove": sum(left_open.values()),
            # a storage actor killed with -9 cannot log out: its session waits for the array's idle timeout
            "sessions_open_after_remove_without_kill": sum(
                left_open[soak.arrays[s]["name"]] for s in sids
                if not any(e["fault"] == "kill_actor" and e["storage"] == s[:8] for e in soak.events)),
            "slow_calls": sum(slow.values()), "slow_call_list": sorted(slow_list, key=lambda c: c["t"]),
            # of those, the ones during which the array served a request 10+ ms over its latency
            "slow_calls_slow_at_array": sum(c["array_over_ms"] is not None for c in slow_list),
            "probe_calls": sum(len(v) for v in latencies.values()),
            "probe_failures": probe_failures[:20], "probe_failure_count": len(probe_failures),
            "baseline_ms": {k: {"p50": v["median"] * 1e3, "p99": v["p99"] * 1e3} for k, v in baseline.items()},
            "during_ms": {k: {"p50": v["median"] * 1e3, "p99": v["p99"] * 1e3, "max": v["max"] * 1e3}
                          for k, v in during.items()},
            "per_array": {soak.arrays[s]["name"]: {"storage": s[:8], "peak_sessions": peaks[soak.arrays[s]["name"]],
                                                  "open_after_remove": left_open[soak.arrays[s]["name"]],
                                                  "faults": [e["fault"] for e in soak.events if e["storage"] == s[:8]]}
                          for s in sids},
            "actors_start": start_figures, "actors_end": end_figures, "windows": windows,
            "soak_errors": soak.errors, "events": soak.events,
        }
        storage_rows = [k for k in end_figures if k != "supervisor"]
        mean = lambda figs, key: statistics.mean(figs[k][key] for k in storage_rows)  # noqa: E731
        print(f"soak {args.minutes} min, {len(sids)} storages, faults {kinds}")
        print(f"windows: lost {out['windows_lost_reported']}, missing on disk {out['windows_missing_on_disk']}, "
              f"doubled {out['windows_doubled_on_disk']} of {out['windows_on_disk']}")
        print(f"sessions: peak per array {out['peak_sessions_max']}, open after remove {out['sessions_open_after_remove']} "
              f"({out['sessions_open_after_remove_without_kill']} on arrays whose actor was never killed; "
              f"{kinds['kill_actor']} kill -9 of a storage actor)")
        print(f"control group: {out['slow_calls']} of {out['probe_calls']} calls over 2x baseline p99 "
              f"({out['slow_calls_slow_at_array']} slow at the array too), {len(probe_failures)} failed")
        cpu = out["node_cpu_pct"]
        print(f"node CPU, baseline -> during the faults: busy {cpu['baseline']['busy']}% -> {cpu['during']['busy']}%, "
              f"stolen by the host {cpu['baseline']['steal']}% -> {cpu['during']['steal']}%")
        for call in out["slow_call_list"]:
            print(f"  slow: {call}")
        print(f"storage actors (mean): threads {mean(start_figures, 'threads'):.1f} -> {mean(end_figures, 'threads'):.1f}, "
              f"USS {mean(start_figures, 'uss_mb'):.0f} -> {mean(end_figures, 'uss_mb'):.0f} MB; supervisor USS "
              f"{start_figures['supervisor']['uss_mb']:.0f} -> {end_figures['supervisor']['uss_mb']:.0f} MB")
        print("wrote", write_result("soak", out))
        return out
    finally:
        stop.set()
        sim.stop()
        ray.shutdown()


if __name__ == "__main__":
    main()
