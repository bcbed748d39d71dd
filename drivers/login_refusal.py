"""A login the array refused, for Delfin drivers that raise only a generic error for it.

Delfin 1.5.0's OceanStor client answers every failed login, a refused password and an array
that cannot be reached alike, with StorageBackendException ("Failed to login with all rest
URLs"); what the array said is only in its log line. Taken as it is, a rotated password would
leave the storage ``ready`` (a refused re-login inside a call fails that call only) or
``unreachable`` (a refused first login), and every later call or probe would try the old
password again, towards the account's lock-out at the array. So the host reads the driver's
own log record of the refusal while the call runs (``refusals``) and raises
InvalidUsernameOrPassword instead: the session goes ``auth_failed`` and nothing logs in again
until the access info is updated.
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Iterator

from .errors import InvalidUsernameOrPassword


@dataclass(frozen=True)
class RefusalLog:
    """Where a driver logs a refused login, and which of its lines mean the credentials."""
    logger: str
    #: (pattern over the formatted log line, what it means); the first match wins
    patterns: tuple[tuple[str, str], ...]


#: OceanStor's answer codes (in the body of an HTTP 200) for a refused login, as the array
#: numbers them: 1077949061 / 1077987870 / 1077949081 wrong user name or password,
#: 1077949070 / 1077987871 the account is locked.
_OCEANSTOR = RefusalLog("delfin.drivers.huawei.oceanstor.rest_client", (
    (r"^Login error\..*'code': (1077949061|1077987870|1077949081)\b", "the user name or password is wrong"),
    (r"^Login error\..*'code': (1077949070|1077987871)\b", "the account is locked"),
))

#: Delfin drivers whose refused logins are read from their log, by ``"<vendor> <model>"``
REFUSAL_LOGS = {"huawei oceanstor": _OCEANSTOR}

_seen = threading.local()
_installed: set[str] = set()
_install_lock = threading.Lock()


class _Reader(logging.Handler):
    """Notes, for the thread whose call is watched, the first refusal its driver logged."""

    def __init__(self, how: RefusalLog) -> None:
        super().__init__(logging.DEBUG)
        self.compiled = [(re.compile(p, re.DOTALL), meaning) for p, meaning in how.patterns]

    def emit(self, record: logging.LogRecord) -> None:
        found = getattr(_seen, "found", None)
        if found is None or found:
            return
        try:
            line = record.getMessage()
        except Exception:           # a record that does not format is not ours to judge
            return
        for pattern, meaning in self.compiled:
            match = pattern.search(line)
            if match:
                found.append(f"{meaning} (the array's code {match.group(1)})")
                return


def _install(how: RefusalLog) -> None:
    with _install_lock:
        if how.logger in _installed:
            return
        logger = logging.getLogger(how.logger)
        logger.addHandler(_Reader(how))
        if logger.getEffectiveLevel() > logging.ERROR:   # its refusals are logged as errors
            logger.setLevel(logging.ERROR)
        _installed.add(how.logger)


@contextlib.contextmanager
def refusals(driver: str) -> Iterator[None]:
    """Around a login or a call of Delfin's driver ``driver``: if it raised after logging that the
    array refused the credentials, raise InvalidUsernameOrPassword (the cause kept) instead."""
    how = REFUSAL_LOGS.get(driver)
    if how is None:
        yield
        return
    _install(how)
    outer, _seen.found = getattr(_seen, "found", None), []
    found = _seen.found
    try:
        yield
    except InvalidUsernameOrPassword:
        raise
    except Exception as exc:
        if found:
            raise InvalidUsernameOrPassword(f"the array refused the login: {found[0]}") from exc
        raise
    finally:
        _seen.found = outer
