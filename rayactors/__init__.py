"""Ray runtime: one session actor per storage, the supervisor, the registry and the client.

    from rayactors import start
    client = start()                      # joins or starts Ray, ensures the supervisor
    storage = client.discover_storage(None, access_info)
    client.list_volumes(None, storage["id"])
"""
import os as _os

# Ray reads RAY_AUTH_MODE when it is first imported: every process of ours agrees on it
# (default "token", override with DELFIN_DM_RAY_AUTH_MODE) before anything imports ray.
_os.environ.setdefault("RAY_AUTH_MODE", _os.environ.get("DELFIN_DM_RAY_AUTH_MODE", "token"))

from .client import DriverManagerClient  # noqa: E402
from .config import Config  # noqa: E402
from .runtime import ensure_supervisor, init_ray, start  # noqa: E402

__all__ = ["DriverManagerClient", "Config", "start", "init_ray", "ensure_supervisor"]
