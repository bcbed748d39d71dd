"""Sessions at the array: Delfin's per-process driver cache vs one session actor per storage.

3 simulated nodes x 3 processes (API, task, alert) run a realistic mix against 3 arrays for
``--seconds``: the task process lists resources, the alert process polls alerts/state, the API
process answers reads and, every 20 s, an access-info update. Contender A builds and caches a
driver per process as ``delfin.drivers.manager.DriverManager`` does (plus the extra uncached
validation login of register/update, with the replaced session never logged out); contender B
uses ``DriverManagerClient``. The simulator counts logins and sessions (its exact peak, not a
sample); its session cap is set far above what either model can reach (1000 per user), so
neither count is clipped, and a call that fails is counted, never fatal.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(mode: str, role: str, node: int, arrays: list[dict], ids: list[str], seconds: float, address: str,
           namespace: str) -> None:
    """One Delfin process (run in its own OS process) of simulated node ``node``."""
    deadline = time.monotonic() + seconds
    step = DelfinProcess(arrays) if mode == "delfin" else OurProcess(arrays, ids, address, namespace)
    last_update, n, updates, errors = time.monotonic(), 0, 0, 0
    while time.monotonic() < deadline:
        i, n = n % len(arrays), n + 1
        update = role == "api" and time.monotonic() - last_update > 20
        if update:
            # each API process walks the arrays from its node's own: with the reads' round robin
            # the three processes' updates all fell on one array
            last_update, i, updates = time.monotonic(), (node + updates) % len(arrays), updates + 1
        try:
            step(role, i, update)
        except Exception:  # noqa: BLE001 - counted: a refused call is a finding, not a crash
            errors += 1
        time.sleep(0.2)
    print(json.dumps({"calls": n, "errors": errors}), flush=True)


class DelfinProcess:
    """Delfin's DriverManager: one cached driver per storage per process."""

    def __init__(self, arrays: list[dict]) -> None:
        from drivers.rest_driver import SimulatorRestDriver
        from drivers.simulator.control import rest_access
        self.arrays, self.cache = arrays, {}
        self.new = lambda i: SimulatorRestDriver(**rest_access(arrays[i]), storage_id=str(i))

    def __call__(self, role: str, i: int, update: bool) -> None:
        name = self.arrays[i]["name"]
        d = self.cache.get(name) or self.cache.setdefault(name, self.new(i))
        if role == "task":
            d.list_volumes(None)
            d.list_ports(None)
            return
        d.get_storage(None)
        if update:                          # update_access_info: validate with a new driver,
            self.new(i).get_storage(None)   # then drop the cached one: its session is never logged out
            self.cache.pop(name)


class OurProcess:
    def __init__(self, arrays: list[dict], ids: list[str], address: str, namespace: str) -> None:
        import rayactors  # noqa: F401
        from rayactors import Config, DriverManagerClient
        self.arrays, self.ids = arrays, ids
        self.client = DriverManagerClient(address=address, config=Config.load(namespace=namespace))

    def __call__(self, role: str, i: int, update: bool) -> None:
        sid, c = self.ids[i], self.client
        if role == "task":
            c.list_volumes(None, sid)
            c.list_ports(None, sid)
        elif role == "alert":
            c.storage_state(sid)
        else:
            c.get_storage(None, sid)
            if update:
                c.update_access_info(None, {"storage_id": sid, "rest": {"password": self.arrays[i]["users"]["admin"]}})


def run_contender(mode: str, sim, arrays: list[dict], seconds: float, address: str, namespace: str,
                  ids: list[str]) -> dict:
    for a in arrays:
        sim.reset_stats(a["name"])
        sim.expire_sessions(a["name"])
    baseline = {a["name"]: sim.stats(a["name"])["active_sessions"] for a in arrays}
    spec = json.dumps({"arrays": arrays, "ids": ids})
    procs = [subprocess.Popen([sys.executable, "-m", "bench.sessions", "--worker", mode, role, str(node), spec,
                               str(seconds), address, namespace], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
             for node in range(3) for role in ("api", "task", "alert")]
    peak = {a["name"]: 0 for a in arrays}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            for a in arrays:
                peak[a["name"]] = max(peak[a["name"]], sim.stats(a["name"])["active_sessions"] - baseline[a["name"]])
            stop.wait(0.5)
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    outs = []
    for p in procs:
        lines = p.communicate()[0].strip().splitlines()
        outs.append(json.loads(lines[-1]) if lines else {"calls": 0, "errors": 0, "crashed": True})
    stop.set()
    t.join()
    stats = {a["name"]: sim.stats(a["name"]) for a in arrays}
    return {"mode": mode, "calls": sum(o["calls"] for o in outs), "errors": sum(o["errors"] for o in outs),
            "crashed_processes": sum(bool(o.get("crashed")) for o in outs),
            "logins_per_array": {k: v["logins"] for k, v in stats.items()},
            "peak_active_sessions_per_array": {k: v["peak_sessions"] for k, v in stats.items()},
            "sampled_peak_per_array": peak,
            "rejected_at_cap": sum(v.get("rejected_session_limit", 0) for v in stats.values())}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        spec = json.loads(argv[4])
        worker(argv[1], argv[2], int(argv[3]), spec["arrays"], spec["ids"], float(argv[5]), argv[6], argv[7])
        return {}
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args(argv)
    import rayactors  # noqa: F401
    import ray
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start, stop_supervisor

    from .common import write_result
    sim = SimulatorProcess()
    try:
        arrays = [sim.add_array(name=f"bench-s{i}", sizes={"volumes": 500}, max_sessions=1000) for i in range(3)]
        ns = f"bench-sessions-{os.getpid()}"
        client = start(namespace=ns, data_dir=tempfile.mkdtemp(prefix="bench-"), scheduler_enabled=False)
        address = ray.get_runtime_context().gcs_address
        delfin = run_contender("delfin", sim, arrays, args.seconds, address, ns, [])
        for a in arrays:
            sim.reset_stats(a["name"])
        ids = [client.discover_storage(None, rest_access(a))["id"] for a in arrays]
        registration_logins = {a["name"]: sim.stats(a["name"])["logins"] for a in arrays}
        ours = run_contender("ours", sim, arrays, args.seconds, address, ns, ids)
        ours["registration_logins_per_array"] = registration_logins
        for sid in ids:
            client.remove_storage(None, sid)
        result = {"seconds": args.seconds, "processes": 9, "arrays": 3, "delfin_model": delfin, "ours": ours}
        for r in (delfin, ours):
            print(f"{r['mode']:>7}: logins/array {r['logins_per_array']}  peak sessions/array "
                  f"{r['peak_active_sessions_per_array']}  calls {r['calls']} (failed {r['errors']})")
        print("wrote", write_result("sessions", result))
        stop_supervisor(client.cfg, timeout_s=0)
        return result
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
