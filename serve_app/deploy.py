"""Deploying the HTTP app on Ray Serve (default 127.0.0.1:8190)."""
from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

import rayactors  # noqa: F401  (RAY_AUTH_MODE before ray is imported)
from ray import serve
from rayactors.config import Config

from . import app as app_module
from .app import app
from .limits import InFlight

APP_NAME = "delfin-dm"


# Requests only await actor calls (nothing blocks the replica's loop), and each storage has its
# own bulkhead (limits.InFlight): the replica can hold many at once without one array's slowness
# reaching another's.
@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=2000)
@serve.ingress(app)
class DelfinApi:
    def __init__(self, config: dict[str, Any], token_sha256: Optional[str]) -> None:
        import rayactors  # noqa: F401  (auth mode before ray in this replica)
        from rayactors.async_client import new_client
        cfg = Config.model_validate(config)
        app_module.RUNTIME["client"] = new_client(cfg)
        app_module.RUNTIME["inflight"] = InFlight({"session": 2, "control": cfg.http_control_inflight,
                                                   "bulk": cfg.http_bulk_inflight})
        app_module.RUNTIME["token_sha256"] = token_sha256


def deploy(cfg: Config, host: str = "127.0.0.1", port: int = 8190, api_token: Optional[str] = None) -> str:
    """Start Serve's proxy on ``host:port`` and (re)deploy the app; returns the base URL.

    Only the SHA-256 of the bearer token reaches Ray (deployment arguments are visible in
    Ray's state API); the token itself stays in the caller's environment.
    """
    token = api_token if api_token is not None else os.environ.get("DELFIN_DM_API_TOKEN")
    digest = hashlib.sha256(token.encode()).hexdigest() if token else None
    serve.start(http_options={"host": host, "port": port})
    serve.run(DelfinApi.bind(cfg.model_dump(), digest), name=APP_NAME, route_prefix="/")
    return f"http://{host}:{port}"


def shutdown() -> None:
    try:
        serve.delete(APP_NAME)
    except Exception:
        pass
    serve.shutdown()
