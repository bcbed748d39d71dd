"""``make test``: the suite as two pytest processes side by side.

One runs the tests on the session's shared Ray cluster. The other runs the ``own_process``
tests (tests/conftest.py marks every test that does not use that cluster): plain Python, and
the tests that start Ray clusters of their own (``make run``, the CLI's detached demo,
multi-node), which mostly wait on Ray's start-up and would otherwise add about four minutes to
the shared ones'. That second process runs at nice 10, as do the clusters it starts: many
shared tests measure latencies under load, while the own-process ones only have generous
start-up deadlines. The shared half prints as it runs; the other half's output follows it.

Arguments go to both halves. The exit status is the first failing half's; a half that
collected no test (pytest's 5, e.g. for a path holding only shared tests) does not fail.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

NO_TESTS = 5


def _quieter() -> None:
    os.nice(10)


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryFile("w+") as log:
        own = subprocess.Popen([*pytest, "-m", "own_process", *argv], stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=_quieter)
        try:
            shared = subprocess.call([*pytest, "-m", "not own_process", *argv])
        finally:
            own_rc = own.wait()          # Ctrl-C reaches both: each pytest stops and cleans up
            log.seek(0)
            print(f"\n{'=' * 30} own-process tests (run alongside) {'=' * 30}", flush=True)
            sys.stdout.write(log.read())
    codes = [rc for rc in (shared, own_rc) if rc != NO_TESTS]
    if not codes:
        return NO_TESTS
    return next((rc for rc in codes if rc != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
