"""One driver call's round trip to the simulator on a reused connection, no latency injected.

What the simulator itself costs every end-to-end figure. Before its fix (one write per response,
TCP_NODELAY) a reused connection waited ~40 ms on the client's delayed ACK; to compare, run this
simulator and driver of an older commit too: ``git worktree add /tmp/old 291be7f``, then
``.venv/bin/python -m bench.array_roundtrip --tree /tmp/old`` (prints only).
Not in ``make bench``: ``.venv/bin/python -m bench.array_roundtrip``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .common import stats, write_result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.array_roundtrip")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--tree", help="use the simulator and driver of this checkout (prints only)")
    args = ap.parse_args(argv)
    if args.tree:
        sys.path.insert(0, os.path.abspath(args.tree))
        os.chdir(args.tree)                          # the simulator's process starts from here
    from drivers.rest_driver import SimulatorRestDriver
    from drivers.simulator.control import SimulatorProcess, rest_access
    sim = SimulatorProcess()
    try:
        driver = SimulatorRestDriver(**rest_access(sim.add_array(sizes={"volumes": 50, "disks": 0, "ports": 0})),
                                     storage_id="roundtrip")
        driver.get_storage(None)                          # logged in, connection open
        out = {}
        for name in ("get_storage", "list_volumes"):
            fn = getattr(driver, name)
            samples = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                fn(None)
                samples.append(time.perf_counter() - t0)
            s = stats(samples)
            out[name] = {"p50_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000}
            print(f"{name:>13}: p50 {s['median'] * 1000:.2f} ms  p99 {s['p99'] * 1000:.2f} ms")
        driver.close()
    finally:
        sim.stop()
    if not args.tree:
        print("wrote", write_result("array_roundtrip", {"calls": args.calls, **out}))
    return out


if __name__ == "__main__":
    main()
