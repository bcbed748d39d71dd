"""What the array answered during one call of a Delfin driver, read from its ``requests`` sessions.

Delfin's REST drivers often turn an error answer into no data: 1.5.0's FlashArray driver answers
a throttled or failing array (429, 5xx) with an empty list, or with the pages it got before the
failing one; Unity's and DS8000's do the same on 429; VPLEX's answers a rejected password (401:
it sends the credentials with every request) with an empty list. Returned as they are, an
inventory sync would record the array as emptied, and with a rejected password every later call
would try it again, towards the account's lock-out. So the host watches every response of a
call, and a call during which a request's last answer was 401 fails with
InvalidUsernameOrPassword, one whose last answer was 429 or 5xx with StorageBackendException,
instead of returning what the driver made of it, or raising a generic error it met reading that
(``DelfinDriverHost._forward``, ``GENERIC_ERRORS``). A request the
driver retried until it succeeded (a 401 answered by a new login, then the request again) does
not count; requests a driver makes from other threads than the caller's are not seen. A console's
error text that a driver turns into no data is noted the same way (``note_trouble``).

A driver can also loop on a failing request: Delfin 1.5.0's VMAX driver pages a list with
positions it advances only when a page arrives, so a page the array refuses (401 after a password
change, 429, an expired iterator) is asked for again without end, each 401 a failed login towards
the account's lock-out. So the watch stops a call whose same request (method, URL and body) was
refused twice or troubled three times in a row (``STOP_AFTER``): that answer, and every later one
in the call, raises ``CallStopped`` in the driver, and the call fails with what the array said.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlsplit

#: per thread, while a call is watched: request (method, URL) -> the status of its last answer
#: (``last``), the same request's failed answers in a row (``fails``), why the call was stopped
_calls = threading.local()
#: how many failed answers in a row to the same request stop a call: refused (each one a failed
#: login at the array; Delfin's drivers send a refused request again once at most, after a new
#: login) and troubled (no Delfin 1.5.0 driver retries a throttled or failing request)
STOP_AFTER = {"refused": 2, "troubled": 3}


class CallStopped(Exception):
    """Raised in a driver's request when the watch stops its call (see ``STOP_AFTER``)."""


def troubled(status: int) -> bool:
    """An answer that says the array could not serve the request now (throttled, failing)."""
    return status == 429 or status >= 500


def refused(status: int) -> bool:
    """An answer that says the array did not accept the credentials."""
    return status == 401


@dataclass
class Answers:
    """What a watched call's requests last got, once the call is over: ``"429 to GET /path"``."""
    troubles: list[str] = field(default_factory=list)     #: throttled or failing
    refused: list[str] = field(default_factory=list)      #: credentials not accepted
    #: why the call was stopped ("401 to GET /path, 2 times in a row"), and whether it was refused
    stopped: str = ""
    stopped_refused: bool = False


def _note(resp: Any, *args: Any, **kwargs: Any) -> None:
    seen = getattr(_calls, "last", None)
    if seen is None or resp.request is None:
        return
    answers: Answers = _calls.answers
    if answers.stopped:
        raise CallStopped(answers.stopped)
    request, status = resp.request, resp.status_code
    seen[(request.method, resp.url)] = status
    kind = "refused" if refused(status) else "troubled" if troubled(status) else ""
    key = (request.method, resp.url, hash(request.body))
    fails = _calls.fails[key] = _calls.fails.get(key, 0) + 1 if kind else 0
    if kind and fails >= STOP_AFTER[kind]:
        answers.stopped = f"{status} to {request.method} {urlsplit(resp.url).path}, {fails} times in a row"
        answers.stopped_refused = kind == "refused"
        raise CallStopped(answers.stopped)


def note_trouble(seen: str) -> None:
    """An answer of trouble read from a console rather than a ``requests`` session (an SSH CLI's
    error text: ``"'Error: ...' to show volumes -csv"``), for the call watched in this thread."""
    answers = getattr(_calls, "answers", None)
    if answers is not None:
        answers.troubles.append(seen)


def watch_session(session: Any) -> None:
    """Add the hook to a ``requests.Session`` (once)."""
    import requests
    if isinstance(session, requests.Session):
        hooks = session.hooks.setdefault("response", [])
        if _note not in hooks:
            hooks.append(_note)


def _init_and_watch(obj: Any, init: Any, *args: Any, **kwargs: Any) -> Any:
    out = init(obj, *args, **kwargs)
    watch_session(getattr(obj, "session", None))
    return out


def watch_objects(objects: Any) -> None:
    """Watch the sessions these objects hold, and the ones they make later: Delfin's handlers
    build a new session in ``init_http_head`` when they log in again, within a call too."""
    for obj in objects:
        watch_session(getattr(obj, "session", None))
        init = getattr(type(obj), "init_http_head", None)
        if callable(init) and "init_http_head" not in vars(obj):
            obj.init_http_head = functools.partial(_init_and_watch, obj, init)


@contextlib.contextmanager
def watched() -> Iterator[Answers]:
    """Around one call: yields ``Answers`` that hold, once the call is over, every request whose
    last answer was troubled or refused (``"429 to GET /api/1.17/volume"``)."""
    answers = Answers()
    _calls.last = last = {}
    _calls.fails, _calls.answers = {}, answers
    try:
        yield answers
    finally:
        _calls.last = _calls.fails = _calls.answers = None
        for (method, url), status in last.items():
            seen = f"{status} to {method} {urlsplit(url).path}"
            if troubled(status):
                answers.troubles.append(seen)
            elif refused(status):
                answers.refused.append(seen)
