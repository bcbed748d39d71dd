"""``python -m drivers.simulator --arrays N [--config FILE] [--ready-file F]``.

Prints one JSON line (arrays, ports, credentials, admin port) once every server listens.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .server import Simulator, default_array


def main(argv: list[str] | None = None, prog: str = "python -m drivers.simulator") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Simulated storage arrays on 127.0.0.1: a REST API and "
                                 "an SSH CLI each, one admin API. Prints one JSON line (arrays, ports, credentials, "
                                 "admin port) once every server listens.")
    ap.add_argument("--arrays", type=int, default=None, help="number of default arrays (default 2)")
    ap.add_argument("--config", help="JSON file: {admin_port, arrays: [ArrayConfig...], defaults: {...}}")
    ap.add_argument("--ready-file", help="also write the ready JSON to this file (atomically)")
    ap.add_argument("--volumes", type=int, default=None, help="volumes per default array")
    ap.add_argument("--idle-timeout", type=float, default=None, help="token idle expiry (s)")
    ap.add_argument("--perf-interval", type=int, default=None, help="perf sample step (s)")
    ap.add_argument("--admin-port", type=int, default=None)
    ap.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = ap.parse_args(argv)
    logging.basicConfig(level=os.environ.get("SIM_LOG_LEVEL", "WARNING"))

    config: dict = {}
    if args.config:
        with open(args.config) as fh:
            config = json.load(fh)
    defaults = dict(config.get("defaults", {}))
    if args.volumes is not None:
        defaults.setdefault("sizes", {})["volumes"] = args.volumes
    if args.idle_timeout is not None:
        defaults["idle_timeout"] = args.idle_timeout
    if args.perf_interval is not None:
        defaults["perf_interval"] = args.perf_interval
    arrays = config.get("arrays")
    if arrays is None or args.arrays is not None:
        arrays = [default_array(i) for i in range(args.arrays if args.arrays is not None else 2)]
    config["arrays"] = [{**defaults, **a} for a in arrays]
    if args.admin_port is not None:
        config["admin_port"] = args.admin_port

    sim = Simulator(config)
    try:
        sim.start()
    except (OSError, ValueError, TypeError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    line = json.dumps(sim.ready_info())
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(line + "\n")
        os.replace(tmp, args.ready_file)
    print(line, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.parent_pid:   # a test or benchmark that died without stopping us: do not linger
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()
    stop.wait()
    sim.stop()
    return 0


def _watch_parent(pid: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set()
        except PermissionError:
            pass


if __name__ == "__main__":
    sys.exit(main())
