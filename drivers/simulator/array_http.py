"""What every simulated array's HTTP API does around its vendor routes (ours, FlashArray, Unity):
the request counted in flight on its session, the injected latency and faults, the array's
errors as HTTP answers."""
from __future__ import annotations

import base64
import binascii
from typing import Any, Optional

from .array import SimArray, SimError
from .http_base import HttpError, JsonHandler


class ArrayHandler(JsonHandler):
    #: the body a ``malformed`` array answers with: the start of a vendor reply, cut off
    GARBAGE = b"{\"items\": [<<garbage"
    #: what the array answers while it throttles (with the throttle's status)
    BUSY = "too many requests, try later"

    def sim_array(self) -> SimArray:
        return self.server.context  # type: ignore[attr-defined]

    #: where a request carries its session: a header or a cookie (None: the API holds none)
    SESSION_HEADER: Optional[str] = None
    SESSION_COOKIE: Optional[str] = None

    def session_key(self) -> Optional[str]:
        """The session a request runs on (token or cookie), for ``peak_session_inflight``."""
        if self.SESSION_HEADER:
            return self.headers.get(self.SESSION_HEADER)
        return self.cookie(self.SESSION_COOKIE) if self.SESSION_COOKIE else None

    def session_user(self) -> Optional[str]:
        """The user of the request's session, its idle timer refreshed; None when the array does
        not hold that session (expired, logged out, never opened)."""
        try:
            return self.sim_array().touch(self.session_key())
        except SimError:
            return None

    def basic_auth(self) -> tuple[str, str]:
        """The user and password of the request's basic ``Authorization`` header (401 without one)."""
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme != "Basic" or not user:
            raise HttpError(401, "Unauthorized")
        return user, password

    def authenticate(self, user: str, password: str, refusal: str = "Unauthorized") -> None:
        """A request to an API that holds no session (the credentials on every request: VPLEX's,
        Unisphere's, ONTAP's REST): checked on its own (401 otherwise, counted as a failed
        login), then counted as served."""
        array = self.sim_array()
        try:
            array.check_password(user, password)
        except SimError:
            raise HttpError(401, refusal) from None
        array.count_request()

    def serve(self, method: str, parts: list[str]) -> tuple[int, Any]:
        raise HttpError(404, "not found")

    def route(self, method: str, parts: list[str]) -> tuple[int, Any]:
        array = self.sim_array()
        with array.in_flight(self.session_key()):
            array.delay()
            faults = array.faults
            throttled = array.throttled()
            if throttled:
                raise HttpError(throttled, self.BUSY)
            if faults.malformed:
                return 200, self.GARBAGE
            try:
                return self.serve(method, parts)
            except SimError as exc:
                raise HttpError(exc.status, exc.message) from None

    def cookie(self, name: str) -> Optional[str]:
        for item in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = item.strip().partition("=")
            if key == name:
                return value
        return None


class ModelHandler(ArrayHandler):
    """A vendor API served from its model of the array (the server's context), which holds the
    array it is derived from as ``array``."""

    def sim_array(self) -> SimArray:
        return self.server.context.array  # type: ignore[attr-defined]
