"""Ray's cluster token for the clusters this package starts on this machine (stdlib only: the
CLI imports it).

Every process of ours runs with ``RAY_AUTH_MODE=token`` (``rayactors/__init__``), so a Ray head
needs a token before it starts. ``ray.init()`` writes one when it starts a cluster, ``ray start``
(the head ``delfin-dm up`` starts) does not: on a machine where Ray had never run, ``make run``
failed with Ray's AuthenticationError. And the token Ray writes gets the process's umask
(``0644`` here), readable by every local user, though it is the cluster's one secret: whoever
holds it can run code on every node.

``ensure_token()`` writes the token where Ray looks for it (``~/.ray/auth_token``), readable by
its owner alone, unless one is given already (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, or the
file). A token given is never replaced or changed; a ``RAY_AUTH_TOKEN_PATH`` that names no file
is left for Ray to refuse.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional


def token_path() -> Path:
    """Where Ray looks for the token when no variable names one."""
    return Path.home() / ".ray" / "auth_token"


def ensure_token(env: Optional[dict[str, str]] = None) -> Optional[Path]:
    """Write a new token (256 random bits, as Ray's own) to ``token_path()`` with mode 0600 when
    ``env`` (default: this process's) runs token auth and gives no token; returns the path
    written, or None when nothing was."""
    env = os.environ if env is None else env
    if env.get("RAY_AUTH_MODE", "").lower() != "token" or env.get("RAY_AUTH_TOKEN") \
            or env.get("RAY_AUTH_TOKEN_PATH"):
        return None
    path = token_path()
    if path.exists():
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # written whole under another name, then linked in place: a Ray starting meanwhile never
    # reads it half written (an empty token file is fatal to it), and one there is kept
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(draft, path)
    except FileExistsError:
        return None                   # a concurrent start wrote one first: that one is used
    finally:
        draft.unlink()
    return path
