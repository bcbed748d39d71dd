"""Ray runtime: one session actor per storage, the supervisor, the registry and the client.

    from rayactors import start
    client = start()                      # joins or starts Ray, ensures the supervisor
    storage = client.discover_storage(None, access_info)
    client.list_volumes(None, storage["id"])

Importing the package imports no Ray yet (the names below load on first use), so a command
line can answer ``--help`` or read its config at once.
"""
import importlib as _importlib
import os as _os
from typing import Any as _Any

# Ray reads RAY_AUTH_MODE when it is first imported: every process of ours agrees on it
# (default "token", override with DELFIN_DM_RAY_AUTH_MODE) before anything imports ray.
_os.environ.setdefault("RAY_AUTH_MODE", _os.environ.get("DELFIN_DM_RAY_AUTH_MODE", "token"))

_EXPORTS = {"DriverManagerClient": ".client", "Config": ".config", "start": ".runtime", "init_ray": ".runtime",
            "ensure_supervisor": ".runtime", "stop_supervisor": ".runtime"}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> _Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_importlib.import_module(_EXPORTS[name], __name__), name)
