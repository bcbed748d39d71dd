"""One accessor per named actor: names, lookups, and not-found mapped to Delfin errors."""
from __future__ import annotations

from typing import Any, Optional

import ray

from drivers.errors import StorageNotFound

STORAGE_PREFIX = "storage:"


def storage_actor_name(storage_id: str) -> str:
    return f"{STORAGE_PREFIX}{storage_id}"


def get_storage_actor(storage_id: str, namespace: str) -> Any:
    try:
        return ray.get_actor(storage_actor_name(storage_id), namespace=namespace)
    except ValueError:
        raise StorageNotFound(storage_id) from None


def get_supervisor(name: str, namespace: str) -> Any:
    """Raises ValueError when the supervisor is not running."""
    return ray.get_actor(name, namespace=namespace)


def board_name(supervisor_name: str) -> str:
    """The supervisor's ownership board (``ownership.py``): a detached actor beside it."""
    return f"{supervisor_name}:ownership"


def get_board(supervisor_name: str, namespace: str) -> Any:
    """Raises ValueError when the board is not running."""
    return ray.get_actor(board_name(supervisor_name), namespace=namespace)


def lookup(name: str, namespace: str) -> Optional[Any]:
    """The named actor's handle, or None when no actor of that name is alive."""
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None


def live_storage_actor_ids(namespace: str) -> set[str]:
    names = ray.util.list_named_actors(all_namespaces=True)
    return {n["name"][len(STORAGE_PREFIX):] for n in names
            if n.get("namespace") == namespace and n["name"].startswith(STORAGE_PREFIX)}
