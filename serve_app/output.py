"""Where a CLI command's output goes: the process's stdout, and nothing else goes there.

Ray's driver prints the cluster's warnings (the raylet's "N worker processes have been started
...") on ``sys.stdout`` from a thread of its own, whatever ``log_to_driver`` says, so
``delfin-dm register --json ... | jq`` read them as the start of its JSON. While a command runs,
``sys.stdout`` is stderr (where such chatter belongs) and the command writes with ``say``.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, Optional, TextIO

_output: Optional[TextIO] = None     # the real stdout while a command runs


def say(*parts: Any) -> None:
    """One line of the command's output (to stdout as it is now, outside a command)."""
    print(*parts, file=_output or sys.stdout, flush=True)


@contextlib.contextmanager
def chatter_to_stderr() -> Iterator[None]:
    """``sys.stdout`` is stderr within; ``say`` writes to the real stdout."""
    global _output
    _output, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout, _output = _output, None
