"""What a Delfin driver says only in its log: a refused login, an array it could not reach.

Delfin 1.5.0's OceanStor client turns every failed request into an error code of its own and
every failed login, a refused password and an array that cannot be reached alike, into
StorageBackendException ("Failed to login with all rest URLs"); what happened is only in its
log lines. Taken as they are, a rotated password would leave the storage ``ready`` (a refused
re-login inside a call fails that call only) or ``unreachable`` (a refused first login), and
every later call or probe would try the old password again, towards the account's lock-out at
the array; and an array that is down would leave it ``ready``, each call trying to log in. So
the host reads the driver's own log records while a call runs (``logged_errors``) and raises the
error they name: InvalidUsernameOrPassword (the session goes ``auth_failed``, nothing logs in
again until the access info is updated) before InvalidIpOrPort (``unreachable``: the session is
parked and probed, not replaced).
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Iterator

from .errors import DelfinError, InvalidIpOrPort, InvalidUsernameOrPassword


@dataclass(frozen=True)
class LoggedError:
    """A log line of a driver that names the error its call failed with."""
    pattern: str                  #: over the formatted line; group 1 goes into the message
    error: type[DelfinError]
    meaning: str


#: OceanStor's answer codes (in the body of an HTTP 200) for a refused login, as the array
#: numbers them: 1077949061 / 1077987870 / 1077949081 wrong user name or password,
#: 1077949070 / 1077987871 the account is locked. A connection that failed is logged as a
#: "Bad response" with requests' error.
_OCEANSTOR = ("delfin.drivers.huawei.oceanstor.rest_client", (
    LoggedError(r"^Login error\..*'code': (1077949061|1077987870|1077949081)\b", InvalidUsernameOrPassword,
                "the array refused the login: the user name or password is wrong (the array's code {0})"),
    LoggedError(r"^Login error\..*'code': (1077949070|1077987871)\b", InvalidUsernameOrPassword,
                "the array refused the login: the account is locked (the array's code {0})"),
    LoggedError(r"^Bad response from server: .*(NewConnectionError|ConnectTimeoutError|Connection refused)",
                InvalidIpOrPort, "the array could not be reached ({0})"),
))

#: by ``"<vendor> <model>"``: the driver's logger and its lines that name an error, strongest first
LOGGED_ERRORS: dict[str, tuple[str, tuple[LoggedError, ...]]] = {"huawei oceanstor": _OCEANSTOR}

_seen = threading.local()
_installed: set[str] = set()
_install_lock = threading.Lock()


class _Reader(logging.Handler):
    """Notes, for the thread whose call is watched, the log lines that name an error."""

    def __init__(self, errors: tuple[LoggedError, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.compiled = [(re.compile(e.pattern, re.DOTALL), e) for e in errors]

    def emit(self, record: logging.LogRecord) -> None:
        found = getattr(_seen, "found", None)
        if found is None:
            return
        try:
            line = record.getMessage()
        except Exception:           # a record that does not format is not ours to judge
            return
        for rank, (pattern, known) in enumerate(self.compiled):
            match = pattern.search(line)
            if match:
                found.append((rank, known.error(known.meaning.format(match.group(1)))))
                return


def _install(logger_name: str, errors: tuple[LoggedError, ...]) -> None:
    with _install_lock:
        if logger_name in _installed:
            return
        logger = logging.getLogger(logger_name)
        logger.addHandler(_Reader(errors))
        if logger.getEffectiveLevel() > logging.ERROR:   # the lines it reads are errors
            logger.setLevel(logging.ERROR)
        _installed.add(logger_name)


@contextlib.contextmanager
def logged_errors(driver: str) -> Iterator[None]:
    """Around a login or a call of Delfin's driver ``driver``: if it raised after logging a line
    that names an error, raise that error (the strongest logged; the cause kept) instead."""
    known = LOGGED_ERRORS.get(driver)
    if known is None:
        yield
        return
    _install(*known)
    outer, found = getattr(_seen, "found", None), []
    _seen.found = found
    try:
        yield
    except InvalidUsernameOrPassword:
        raise
    except Exception as exc:
        if found:
            raise min(found, key=lambda f: f[0])[1] from exc
        raise
    finally:
        _seen.found = outer
