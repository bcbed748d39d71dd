"""The pages the app serves itself, with every asset shipped in the package (no CDN: storage
management networks are often air-gapped): the dashboard at ``/ui`` and the API docs at
``/docs`` (Swagger UI) and ``/redoc``, their files from ``serve_app/static`` and
``fastapi_offline``."""
from __future__ import annotations

import functools
import os

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
DOCS_STATIC = os.path.join(os.path.dirname(os.path.abspath(fastapi_offline.__file__)), "static")
OPEN_PREFIXES = ("/ui", "/docs", "/redoc", "/openapi.json", "/health")
#: the one remote URL in fastapi_offline's Redoc bundle (its attribution logo), served locally
REDOC_REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.lru_cache(maxsize=1)
def _redoc_js() -> bytes:
    with open(os.path.join(DOCS_STATIC, "redoc.standalone.js"), "rb") as fh:
        return fh.read().replace(REDOC_REMOTE_LOGO, b"/docs-static/favicon.png")


def is_open(path: str) -> bool:
    """Paths that hold no data and need no bearer token (the data comes through the API)."""
    return path == "/health" or any(path == p or path.startswith(p + "/") or path.startswith(p + "-")
                                    for p in OPEN_PREFIXES)


def install(app: FastAPI) -> None:
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.mount("/docs-static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/ui", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(os.path.join(STATIC, "index.html"), media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon.png")

    @app.get("/redoc-assets/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(_redoc_js(), media_type="application/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                              redoc_js_url="/redoc-assets/redoc.standalone.js",
                              redoc_favicon_url="/docs-static/favicon.png", with_google_fonts=False)
