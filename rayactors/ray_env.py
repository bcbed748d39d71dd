"""Environment of the Ray clusters this package starts (stdlib only: the CLI imports it).

``MALLOC_ARENA_MAX=2``: glibc gives each thread that allocates its own heap arena; a storage
actor has some 55 threads (Ray's concurrency groups, gRPC, ours), so its freed memory is spread
over many arenas that are never returned. Two arenas save 4-6 MB USS per storage actor.

``MALLOC_MMAP_THRESHOLD_=131072``: glibc serves blocks from 128 KB up with their own mapping,
returned to the system when freed, but raises that threshold each time such a block is freed
(up to 32 MB), after which a sync's multi-MB reply bodies land in the heap and leave it
fragmented. A fixed threshold keeps them out of it: the heap's free part after a sync falls
from ~5-6 MB to under 1 MB. Its cost, measured and kept: Ray serializes every call's arguments
and results with msgpack, whose packer takes a 256 KB buffer per value, so each one is mapped
and unmapped (a page fault and two system calls, ~9 us per value against 0.6). Raising the
threshold to 512 KB with a 1 MB trim threshold removes that, but cost a registration more CPU
(busy rounds of ``bench.register``, five alternating pairs: 1.51 against 1.32 CPU s per
registration, 1.14 against 1.02 in the storage actor), and the 10 us never showed end to end.

Both measured in ``bench/actor_memory.py``. Every process of the node inherits them from ``ray
start``/``ray.init`` (Ray's own daemons run on jemalloc and ignore them).
"""
from __future__ import annotations

import os

NODE_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}


def node_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``NODE_ENV`` added where the operator set nothing."""
    return {**{k: v for k, v in NODE_ENV.items() if k not in env}, **env}


def apply_node_env() -> None:
    """For a cluster ``ray.init`` starts inside this process: its processes inherit ours."""
    for key, value in NODE_ENV.items():
        os.environ.setdefault(key, value)
