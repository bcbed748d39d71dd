"""``make bench``: every benchmark in one run, then charts and bench/README.md's table."""
from __future__ import annotations

import sys
import time
import traceback

import rayactors  # noqa: F401
import ray

from . import actor_memory, idle_cpu, overhead, pipeline, priority, register, scale, sessions, transport
from .common import init_local_ray
from .report import write_report

SUITE = [("pipeline", pipeline.main, []), ("overhead", overhead.main, []), ("priority", priority.main, []),
         ("transport", transport.main, []), ("sessions", sessions.main, []), ("register", register.main, []),
         ("actor_memory", actor_memory.main, []), ("idle_cpu", idle_cpu.main, []), ("scale", scale.main, [])]


def main() -> int:
    only = sys.argv[1:]
    init_local_ray()
    failures = []
    t_all = time.time()
    try:
        for name, fn, args in SUITE:
            if only and name not in only:
                continue
            print(f"\n=== {name} ===", flush=True)
            t0 = time.time()
            try:
                fn(args)
            except Exception:
                traceback.print_exc()
                failures.append(name)
            print(f"=== {name}: {time.time() - t0:.0f} s", flush=True)
    finally:
        ray.shutdown()
    write_report()
    print(f"\nall benchmarks: {time.time() - t_all:.0f} s; failed: {failures or 'none'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
