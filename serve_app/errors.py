"""The client -> HTTP boundary: every failure becomes ``{error_code, error_msg, error_args}``
with Delfin's status. No traceback ever reaches a response."""
from __future__ import annotations

import logging
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from drivers.errors import DelfinError, InvalidInput, ResourceNotFound, StorageBackendException

from .limits import RETRY_AFTER_S

log = logging.getLogger("delfin_dm.http")


def error_response(exc: DelfinError, headers: Optional[dict[str, str]] = None) -> JSONResponse:
    if exc.code == 503:   # a full queue: say when to come back
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse(exc.to_dict(), status_code=exc.code, headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for route in request.app.routes)]


def install(app: FastAPI) -> None:
    @app.exception_handler(DelfinError)
    async def _delfin(request: Request, exc: DelfinError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0] if exc.errors() else {"loc": ["body"], "msg": "invalid"}
        loc = ".".join(str(p) for p in err.get("loc", []) if p not in ("body", "query", "path"))
        return error_response(InvalidInput(f"Invalid input for field/attribute {loc or 'body'}. {err.get('msg')}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(ResourceNotFound(request.url.path))
        if exc.status_code == 405:
            return JSONResponse({"error_code": "MethodNotAllowed", "error_msg": "Method not allowed.",
                                 "error_args": [request.method]}, status_code=405,
                                headers={"Allow": ", ".join(_allowed(request))})
        return error_response(InvalidInput(str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(StorageBackendException(f"unexpected {type(exc).__name__}"))
