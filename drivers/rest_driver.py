"""``simulator rest``: a REST driver in the manner of Delfin's (requests, token sessions).

One ``requests.Session`` and one token per driver instance; logs in at construction; on a
401 it re-logs in once (single-flight: concurrent callers share one re-login) and retries.
Once closed it never logs in again. Safe for concurrent calls (``max_concurrent_calls``;
``tests/drivers/test_driver_concurrency.py`` proves it). Vendor errors are translated in one
place, ``_translate``.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Optional

import numpy as np
import requests

from . import perfgen
from .errors import (BadResponse, ConnectTimeout, DelfinError, InvalidIpOrPort,
                     InvalidUsernameOrPassword, SSLCertificateFailed, StorageBackendException)
from .access_info import AccessInfo
from .base import perf_window
from .perf_catalog import normalise_request
from .sim_common import DEFAULT_TIMEOUT, PERF_TYPES, SimulatorDriverBase

PAGE = 2000


@contextlib.contextmanager
def _translate(where: str) -> Iterator[None]:
    """requests/urllib3 exceptions -> Delfin errors, keeping the cause."""
    try:
        yield
    except DelfinError:
        raise
    except requests.exceptions.SSLError as exc:
        raise SSLCertificateFailed(where) from exc
    except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout) as exc:
        raise ConnectTimeout(where) from exc
    except requests.exceptions.ConnectionError as exc:
        raise InvalidIpOrPort(where) from exc
    except (requests.exceptions.JSONDecodeError, ValueError) as exc:
        raise BadResponse(where) from exc
    except requests.exceptions.RequestException as exc:
        raise StorageBackendException(f"{where}: {type(exc).__name__}") from exc


def _http_session(access_info: AccessInfo) -> requests.Session:
    """A session that checks the array against the access info's ``verify`` alone: with
    ``trust_env`` (requests' default) ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` in the
    environment would replace the CA given for the array, and verify with ``verify: false``."""
    http = requests.Session()
    http.verify = access_info.tls_verify()
    http.trust_env = False
    return http


def _check_status(resp: requests.Response, where: str) -> None:
    if resp.status_code < 400:
        return
    try:
        detail = str(resp.json().get("error", ""))[:200]
    except ValueError:
        detail = resp.text[:200]
    if resp.status_code in (429, 503):
        raise StorageBackendException(f"{where}: array answered {resp.status_code}: {detail}")
    raise StorageBackendException(f"{where}: HTTP {resp.status_code}: {detail}")


class SimulatorRestDriver(SimulatorDriverBase):
    model = "rest"
    max_concurrent_calls = 4

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rest = self._access_block()
        self._timeout_s = self._timeout()
        self._base = f"{self.access_info.scheme()}://{rest.host}:{rest.port}/api/v1"
        self._http = _http_session(self.access_info)
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._generation = 0          # bumps on every login: the single-flight check
        self._failed: Optional[tuple[int, DelfinError]] = None   # a failed re-login is shared too
        self._closed = False
        with self._lock:
            self._login_locked()

    # -- session ----------------------------------------------------------------------------
    def _login_locked(self) -> None:
        rest = self.access_info.rest
        with _translate("login"):
            resp = self._http.post(f"{self._base}/sessions", timeout=self._timeout_s,
                                   json={"username": rest.username,
                                         "password": rest.password.get_secret_value()})
            if resp.status_code == 401:
                raise InvalidUsernameOrPassword()
            _check_status(resp, "login")
            token = resp.json().get("token")
        if not isinstance(token, str) or not token:
            raise BadResponse("login: no token in reply")
        self._token = token
        self._generation += 1

    def _relogin(self, seen_generation: int) -> None:
        """Single flight: of the callers that saw one expired token, one logs in; the others use
        its new token, or get its error (a rejected password is tried once, never per caller)."""
        with self._lock:
            if self._closed:                             # logged out for good: never again
                raise StorageBackendException("the session was closed")
            if self._generation != seen_generation:      # somebody re-logged in meanwhile
                return
            if self._failed is not None and self._failed[0] == seen_generation:
                raise self._failed[1]
            try:
                self._login_locked()
            except InvalidUsernameOrPassword as exc:   # never retried with the same password
                self._failed = (seen_generation, exc)
                raise

    def reset_connection(self, context: Any, **kwargs: Any) -> None:
        with self._lock:
            if self._closed:
                raise StorageBackendException("the session was closed")
            self._logout_locked()
            self._login_locked()

    def session_handle(self) -> Optional[str]:
        return self._token

    @classmethod
    def release_session(cls, access_info: AccessInfo, handle: str) -> None:
        """Log out the token a killed process left (a DELETE needs no login)."""
        rest = access_info.rest
        if rest is None:
            return
        url = f"{access_info.scheme()}://{rest.host}:{rest.port}/api/v1/sessions/current"
        with _http_session(access_info) as http, _translate("release session"):
            resp = http.delete(url, headers={"X-Auth-Token": handle},
                               timeout=min(5.0, access_info.number("timeout", DEFAULT_TIMEOUT, 0.01, 600)))
            if resp.status_code not in (401, 404):     # unknown token: ended already
                _check_status(resp, "release session")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._logout_locked()
        self._http.close()

    def _logout_locked(self) -> None:
        self._generation += 1         # a caller holding the old token must not reuse its login
        token, self._token = self._token, None
        if token:
            try:
                self._http.delete(f"{self._base}/sessions/current", timeout=min(5.0, self._timeout_s),
                                  headers={"X-Auth-Token": token})
            except requests.exceptions.RequestException:
                pass  # the token expires on the array anyway

    def _get(self, path: str, params: Optional[dict] = None) -> Any:
        where = path.split("?")[0]
        for attempt in (0, 1):
            generation, token = self._generation, self._token
            if token is None:
                self._relogin(generation)
                continue
            with _translate(where):
                resp = self._http.get(f"{self._base}/{path}", params=params, timeout=self._timeout_s,
                                      headers={"X-Auth-Token": token})
                if resp.status_code == 401 and attempt == 0:
                    self._relogin(generation)
                    continue
                _check_status(resp, where)
                return resp.json()
        raise StorageBackendException(f"{where}: session rejected after re-login")

    def _fetch(self, what: str, method: str) -> list[dict]:
        rows: list[dict] = []
        offset = 0
        while True:
            page = self._get(what, {"offset": offset, "limit": PAGE})
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise BadResponse(f"{what}: expected items")
            rows.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= int(page.get("total", 0)):
                return self._rows(method, rows)

    # -- Delfin methods ---------------------------------------------------------------------
    def get_storage(self, context: Any) -> dict:
        return self._storage(self._get("system"))

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> dict:
        caps = self._get("capabilities")
        try:
            return self._capabilities(caps["perf_interval"], caps["retention"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse("capabilities") from exc

    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: dict,
                             start_time: int, end_time: int) -> Any:
        start_time, end_time = perf_window(start_time, end_time)
        wanted = normalise_request(resource_metrics, PERF_TYPES)
        parts = []
        for rtype, metrics in wanted.items():
            if not metrics:
                continue
            body = self._get("perf", {"start": int(start_time), "end": int(end_time), "types": rtype,
                                      "metrics": ",".join(metrics)})
            try:
                ts = np.asarray(body["timestamps"], dtype=np.int64)
                for g in body["groups"]:
                    parts.append(perfgen.assemble(storage_id, g["resource_type"], g["resource_ids"],
                                                  g["metrics"], ts, np.asarray(g["values"], dtype=np.float64)))
            except (KeyError, TypeError, ValueError) as exc:
                raise BadResponse("perf") from exc
        return perfgen.concat(parts)
