"""Environment of the Ray clusters this package starts (stdlib only: the CLI imports it).

``MALLOC_ARENA_MAX=2``: glibc gives each thread that allocates its own heap arena; a storage
actor has some 55 threads (Ray's concurrency groups, gRPC, ours), so its freed memory is spread
over many arenas that are never returned. Two arenas save 4-6 MB USS per storage actor
(bench/actor_memory.py). Every process of the node inherits it from ``ray start``/``ray.init``.
"""
from __future__ import annotations

import os

NODE_ENV = {"MALLOC_ARENA_MAX": "2"}


def node_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``NODE_ENV`` added where the operator set nothing."""
    return {**{k: v for k, v in NODE_ENV.items() if k not in env}, **env}


def apply_node_env() -> None:
    """For a cluster ``ray.init`` starts inside this process: its processes inherit ours."""
    for key, value in NODE_ENV.items():
        os.environ.setdefault(key, value)
