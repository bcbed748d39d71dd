"""A separate OS process acting as one Delfin process (API, task or alert) on some node.

Run as ``python -m tests.rayactors._caller ADDRESS NAMESPACE STORAGE_ID GO_FILE [THREADS [CALLS]]``.
Phase 1: each of THREADS threads (default 1) makes CALLS calls (default 50; list_volumes /
get_storage), all at once. Then wait for the go-file and make one more call, which must fail with StorageNotFound
once the storage is removed. Prints JSON lines. ``callers()`` starts such processes for a test.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from ..helpers import ROOT

CALLS = 50


@contextlib.contextmanager
def callers(manager, storage_id: str, go_file, processes: int, threads: int = 1,
            calls: int = CALLS) -> Iterator[list]:
    """``processes`` caller processes of ``threads`` threads each, ``calls`` calls per thread;
    waits for them on the way out."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.rayactors._caller", manager.address,
                               manager.cfg.namespace, storage_id, str(go_file), str(threads), str(calls)],
                              cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(processes)]
    try:
        yield procs
    finally:
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()


def read_line(procs: list) -> list[dict]:
    """The next JSON line of each caller process."""
    return [json.loads(p.stdout.readline()) for p in procs]


def _calls(client, storage_id: str, calls: int) -> int:
    for i in range(calls):
        if i % 2:
            client.get_storage(None, storage_id)
        else:
            client.list_volumes(None, storage_id)
    return calls


def main() -> None:
    from rayactors import Config, DriverManagerClient

    address, namespace, storage_id, go_file = sys.argv[1:5]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    calls = int(sys.argv[6]) if len(sys.argv) > 6 else CALLS
    client = DriverManagerClient(address=address, config=Config.load(namespace=namespace))
    with ThreadPoolExecutor(threads) as pool:
        ok = sum(pool.map(lambda _: _calls(client, storage_id, calls), range(threads)))
    print(json.dumps({"phase": 1, "ok": ok}), flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        client.list_volumes(None, storage_id)
        print(json.dumps({"phase": 2, "error": None}), flush=True)
    except Exception as exc:
        print(json.dumps({"phase": 2, "error": type(exc).__name__}), flush=True)


if __name__ == "__main__":
    main()
