"""``make test``: the suite as three pytest processes side by side.

- **shared**: the tests on the session's shared Ray cluster (tests/conftest.py starts one per
  pytest process). It prints as it runs.
- **side**: the ``side_cluster`` tests (marked in their modules), on a second cluster of their
  own: tests that assert no latency and mostly wait, above all those running Delfin's vendor
  drivers (their fixed sleeps between console commands, logins, retries). The shared tests
  wait too: alone, they kept 2 cores about 55% busy, so the two side by side take less than
  one after the other (1000 s and 659 s side by side against 1428 s for both in one process).
- **own**: the ``own_process`` tests (conftest marks every test that does not use a shared
  cluster): plain Python, and the tests that start Ray clusters of their own (``make run``, the
  CLI's detached demo, multi-node), which mostly wait on Ray's start-up.

The side and own processes run at nice 10, as do the clusters they start: many shared tests
measure latencies under load, while the others have only generous deadlines. Their reports
follow the shared one's (README, Tests: the times side by side).

Arguments go to every process. The exit status is the first failing one's; a process that
collected no test (``NO_TESTS_COLLECTED``, e.g. for a path holding only shared tests) does
not fail.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from pytest import ExitCode

NO_TESTS = ExitCode.NO_TESTS_COLLECTED
PARTS = {"shared": "not own_process and not side_cluster",
         "side": "side_cluster and not own_process",
         "own": "own_process"}


def _quieter() -> None:
    os.nice(10)


def _wait(proc: subprocess.Popen) -> int:
    """Its exit status. Ctrl-C reaches every pytest process (one process group): each stops,
    and its fixtures stop the clusters and servers it started, so this waits for that."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    logs = {name: tempfile.TemporaryFile("w+") for name in PARTS if name != "shared"}
    try:
        quiet = {name: subprocess.Popen([*pytest, "-m", PARTS[name], *argv], stdout=log,
                                        stderr=subprocess.STDOUT, preexec_fn=_quieter)
                 for name, log in logs.items()}
        codes = [_wait(subprocess.Popen([*pytest, "-m", PARTS["shared"], *argv]))]
        for name, proc in quiet.items():
            codes.append(_wait(proc))
            logs[name].seek(0)
            print(f"\n{'=' * 30} {name} tests (run alongside): -m '{PARTS[name]}' {'=' * 30}", flush=True)
            sys.stdout.write(logs[name].read())
    finally:
        for log in logs.values():
            log.close()
    failed = [rc for rc in codes if rc not in (0, NO_TESTS)]
    if failed:
        return failed[0]
    return NO_TESTS if all(rc == NO_TESTS for rc in codes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
