"""Session states, and the one place errors are sorted into them (as Harvest's collector base).

    connecting --> ready <--> unreachable (backoff, then a fresh login)
        |            |             |
        +------------+-------------+--> auth_failed --(new access info)--> ready
    any --> closed
"""
from __future__ import annotations

import random
from enum import Enum
from typing import Optional

from drivers.errors import (ConnectTimeout, DelfinError, InvalidIpOrPort, InvalidUsernameOrPassword,
                            SSHConnectTimeout, SSHException)


class SessionState(str, Enum):
    CONNECTING = "connecting"
    READY = "ready"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    CLOSED = "closed"


_AUTH = (InvalidUsernameOrPassword,)
_UNREACHABLE = (InvalidIpOrPort, ConnectTimeout, SSHConnectTimeout, SSHException)


def state_for(error: BaseException) -> Optional[SessionState]:
    """The state an error moves the session to, or None when it concerns only that call."""
    if isinstance(error, _AUTH):
        return SessionState.AUTH_FAILED
    if isinstance(error, _UNREACHABLE):
        return SessionState.UNREACHABLE
    return None


def as_delfin(error: BaseException) -> DelfinError:
    from drivers.errors import StorageBackendException
    return error if isinstance(error, DelfinError) else StorageBackendException(f"{type(error).__name__}: {error}")


class Backoff:
    """Exponential backoff with jitter, capped: base * 2**n scaled by U(0.5, 1]."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0
