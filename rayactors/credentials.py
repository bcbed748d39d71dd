"""Credential source: an operator-configured script, in the manner of NetApp Harvest's
``credentials_script``. Called as ``script <host> <username>``; prints either a bare password
or ``username: ...`` / ``password: ...`` lines. Killed after the timeout."""
from __future__ import annotations

import logging
import subprocess
from typing import Optional

log = logging.getLogger("delfin_dm.credentials")


def fetch(script: str, host: str, username: str, timeout: float = 10.0) -> Optional[tuple[str, str]]:
    """(username, password) from the script, or None when it fails or says nothing."""
    try:
        proc = subprocess.run([script, host, username], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("credentials script failed: %s", type(exc).__name__)
        return None
    if proc.returncode != 0:
        log.warning("credentials script exited %d", proc.returncode)
        return None
    return parse(proc.stdout, username)


def parse(output: str, username: str) -> Optional[tuple[str, str]]:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if not lines:
        return None
    fields = {}
    for ln in lines:
        key, sep, value = ln.partition(":")
        if sep and key.strip() in ("username", "password"):
            fields[key.strip()] = value.strip().strip("'\"")
    if "password" in fields:
        return fields.get("username") or username, fields["password"]
    if len(lines) == 1:
        return username, lines[0]
    return None
