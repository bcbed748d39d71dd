"""``make test``: the suite as two pytest processes side by side.

One runs the tests on the session's shared Ray cluster. The other runs the ``own_process``
tests (tests/conftest.py marks every test that does not use that cluster): plain Python, and
the tests that start Ray clusters of their own (``make run``, the CLI's detached demo,
multi-node), which mostly wait on Ray's start-up (README, Tests: the times side by side and
one after the other). That second process runs at nice 10, as do the clusters it starts: many
shared tests measure latencies under load, while the own-process ones only have generous
start-up deadlines. The shared half prints as it runs; the other half's output follows it.

Arguments go to both halves. The exit status is the first failing half's; a half that
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


def _quieter() -> None:
    os.nice(10)


def _wait(proc: subprocess.Popen) -> int:
    """Its exit status. Ctrl-C reaches both pytest processes (one process group): each stops,
    and its fixtures stop the clusters and servers it started, so this waits for that."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryFile("w+") as log:
        own = subprocess.Popen([*pytest, "-m", "own_process", *argv], stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=_quieter)
        shared = subprocess.Popen([*pytest, "-m", "not own_process", *argv])
        codes = [_wait(shared), _wait(own)]
        log.seek(0)
        print(f"\n{'=' * 30} own-process tests (run alongside) {'=' * 30}", flush=True)
        sys.stdout.write(log.read())
    failed = [rc for rc in codes if rc not in (0, NO_TESTS)]
    if failed:
        return failed[0]
    return NO_TESTS if codes == [NO_TESTS, NO_TESTS] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
