"""``make test``: the suite in two lanes side by side, never more than two pytest processes at once.

- **Lane 1** runs the tests on the session's shared Ray cluster (tests/conftest.py starts one
  per pytest process). It prints as it runs.
- **Lane 2** runs, one after the other and at nice 10 (as do the clusters they start):
  1. the ``own_process`` tests (conftest marks every test that does not use a shared cluster):
     plain Python, and the tests that start Ray clusters of their own (``make run``, the CLI's
     detached demo, multi-node), which mostly wait on Ray's start-up;
  2. the ``second_lane`` tests, on a shared cluster of their own: the vendor-driver module,
     which mostly waits on Delfin's drivers' own sleeps. Alone, lane 1 kept the 2 cores only
     about 55% busy, and lane 2's first step ends long before it; this evens the lanes out.

**Priorities.** Lane 1 is the critical path and measures latencies, so it goes first: both lanes
start Ray's workers at Ray's ``worker_niceness`` 0 instead of its default 15 (``WORKER_NICE``),
which keeps each lane's actors at its pytest's niceness. With the default, lane 1's storage
actors and supervisors (nice 15) had a third of the CPU share of lane 2's pytest and simulator
(nice 10): a stale twin on the shared cluster once took over 10 s to stop after its storage's
removal in CI, a few hops of Ray calls. What the tests check does not depend on the niceness;
production keeps Ray's default (README, Operating: CPU priority).

Why not three at once: a third pytest process (tried on 2 December) failed a latency test in two
runs of three. Many shared tests measure latencies under load, so the other lane is the nice one.
Lane 2's reports follow lane 1's (README, Tests: the times).

Arguments go to every step. The exit status is the first failing step's; a step that collected
no test (``NO_TESTS_COLLECTED``, e.g. for a path holding only shared tests) does not fail.
Ctrl-C stops both lanes: each pytest stops and its fixtures stop what they started, and lane 2
starts no further step.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading

from pytest import ExitCode

NO_TESTS = ExitCode.NO_TESTS_COLLECTED
INTERRUPTED = threading.Event()
LANE_1 = "not own_process and not second_lane"
LANE_2 = ("own_process", "second_lane and not own_process")
#: the environment of both lanes: their clusters' workers at the lane's own niceness
WORKER_NICE = {"RAY_worker_niceness": "0"}


def _quieter() -> None:
    os.nice(10)


def _env() -> dict[str, str]:
    return {**WORKER_NICE, **os.environ}        # an operator's own setting wins


def _wait(proc: subprocess.Popen) -> int:
    """Its exit status. Ctrl-C reaches every pytest process (one process group): each stops,
    and its fixtures stop the clusters and servers it started, so this waits for that."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            INTERRUPTED.set()


def _lane_2(pytest: list[str], argv: list[str], log, codes: list[int]) -> None:
    for selection in LANE_2:
        if INTERRUPTED.is_set():
            return
        log.write(f"\n{'=' * 30} lane 2: -m '{selection}' {'=' * 30}\n")
        log.flush()
        proc = subprocess.Popen([*pytest, "-m", selection, *argv], stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_quieter, env=_env())
        codes.append(proc.wait())
        if codes[-1] == ExitCode.INTERRUPTED:
            return


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", "--durations=15"]     # each lane's slowest, for the next look at the time
    codes: list[int] = []
    with tempfile.TemporaryFile("w+") as log:
        lane_2 = threading.Thread(target=_lane_2, args=(pytest, argv, log, codes), daemon=True)
        lane_2.start()
        lane_1 = _wait(subprocess.Popen([*pytest, "-m", LANE_1, *argv], env=_env()))
        while lane_2.is_alive():
            try:
                lane_2.join()
            except KeyboardInterrupt:
                INTERRUPTED.set()
        codes.insert(0, lane_1)
        log.seek(0)
        print(f"\n{'=' * 30} lane 2 (ran alongside) {'=' * 30}", flush=True)
        sys.stdout.write(log.read())
    failed = [rc for rc in codes if rc not in (0, NO_TESTS)]
    if failed:
        return failed[0]
    return NO_TESTS if all(rc == NO_TESTS for rc in codes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
