"""Deploying the HTTP app on Ray Serve (default 127.0.0.1:8190)."""
from __future__ import annotations

import hashlib
import os
from typing import Any, NamedTuple, Optional

import rayactors  # noqa: F401  (RAY_AUTH_MODE before ray is imported)
from ray import serve
from rayactors.config import Config

from . import app as app_module
from .app import app
from .limits import InFlight

APP_PREFIX = "delfin-dm"


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
    serve.run(DelfinApi.bind(cfg.model_dump(), digest), name=app_name(cfg.namespace), route_prefix="/")
    return f"http://{host}:{port}"


def app_name(namespace: str) -> str:
    """Our Serve application, one per driver manager (namespace): Serve's applications are
    cluster-wide, so the name tells whose app holds the proxy's ``/``."""
    return f"{APP_PREFIX}-{namespace}"


class ServeInCluster(NamedTuple):
    """Serve as it already runs in a joined cluster: its proxy's address (None where Serve does
    not say), and its applications with their route prefixes."""
    host: Optional[str]
    port: Optional[int]
    apps: dict[str, Optional[str]]


def serve_in_cluster() -> Optional[ServeInCluster]:
    """Serve already running in the connected cluster, or None. A cluster has one HTTP proxy,
    started with its first options: ``serve.start`` with another port later only warns, so
    ``up`` must know it before it says where it listens. (Serve's public ``status`` has neither
    the proxy's options nor the route prefixes; its controller's details have both.)"""
    from ray.serve.context import _get_global_client
    client = _get_global_client(raise_if_no_controller_running=False)
    if client is None:
        return None
    details = client.get_serve_details()
    http = details.get("http_options") or {}
    return ServeInCluster(http.get("host"), http.get("port"),
                          {name: app.get("route_prefix") for name, app in (details.get("applications") or {}).items()})


def shutdown(namespace: str) -> None:
    """Delete our app; stop Serve (its proxy's port with it) unless other applications run on
    it, which are not ours to stop."""
    try:
        serve.delete(app_name(namespace))
    except Exception:
        pass
    try:
        others = list(serve.status().applications)
    except Exception:  # Serve gone already
        others = []
    if not others:
        serve.shutdown()
