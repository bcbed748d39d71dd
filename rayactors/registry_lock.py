"""One supervisor per registry.

Each supervisor restores a storage actor, and so a session, for every storage its registry
holds. A second supervisor on the same registry (in a second Ray cluster on the same data dir:
two processes that each start one with ``rayactors.start()``; or in another namespace) would
open a second session to every array and write every window twice.
The supervisor holds an exclusive ``flock`` on ``<registry>.lock`` for its life; the kernel lets
it go when the process ends, however it ends, so the supervisor Ray restarts after a crash
takes it over. Who holds it is written in the file, for the refusal's message.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from typing import IO, Any, Optional

from drivers.errors import InvalidInput

log = logging.getLogger("delfin_dm.registry_lock")
#: what ``flock`` says on a file system that has no locks (some network and FUSE ones)
UNLOCKABLE = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP}
#: the words of the refusal, by which a caller finds it in the dead supervisor's error
IN_USE = "is in use by another supervisor"


def hold(registry_path: str, holder: dict[str, Any], wait_s: float) -> IO[str]:
    """Take the registry's lock and write ``holder`` in it; the returned file keeps the lock
    while it stays open. InvalidInput names the holder. It waits up to ``wait_s`` (the
    supervisor's ``close_timeout_s``) for it: the process of a supervisor just killed can take a
    moment to end (``ray.kill`` returns before it has)."""
    os.makedirs(os.path.dirname(registry_path) or ".", exist_ok=True)
    fh = open(registry_path + ".lock", "a+")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno in UNLOCKABLE:          # a file system without locks: said, not fatal
                log.warning("the registry %s cannot be locked here (%s): nothing keeps a second supervisor "
                            "off it", registry_path, exc.strerror)
                break
            if not isinstance(exc, BlockingIOError):
                raise
            if time.monotonic() >= deadline:
                fh.seek(0)
                held_by = fh.read().strip() or "unknown"
                fh.close()
                raise InvalidInput(
                    f"the registry {registry_path} {IN_USE} ({held_by}): a second one "
                    f"would open a second session to every array. Join its cluster (rayactors.start(address=...), "
                    f"delfin-dm --address ...) or give this one another data_dir") from None
            time.sleep(0.1)
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), **holder}))
    fh.flush()
    return fh


def refusal_in(text: str) -> Optional[str]:
    """The refusal ``hold`` raised, found in the text of the error of a supervisor that died of
    it in its constructor (Ray gives the caller that error's text, not the error)."""
    for line in text.splitlines():
        if IN_USE in line:
            return line.split("Invalid input received. ", 1)[-1].strip()
    return None
