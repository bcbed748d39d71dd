"""Environment of the Ray clusters this package starts (stdlib only: the CLI imports it).

``MALLOC_ARENA_MAX=2``: glibc gives each thread that allocates its own heap arena; a storage
actor has some 55 threads (Ray's concurrency groups, gRPC, ours), so its freed memory is spread
over many arenas that are never returned. Two arenas save 4-6 MB USS per storage actor.

``MALLOC_MMAP_THRESHOLD_=524288``: glibc serves blocks from the threshold up with their own
mapping, returned to the system when freed, but raises that threshold each time such a block is
freed (up to 32 MB), after which a sync's multi-MB reply bodies land in the heap and leave it
fragmented. A fixed threshold keeps them out of it: the heap's free part after a sync falls
from ~5-6 MB to under 1 MB. It must stay above 256 KB: Ray serializes every call's arguments
and results with msgpack, which takes a 256 KB buffer per value; at 128 KB each one was mapped
and unmapped (a page fault and two system calls per value, ~9 us against 0.6).

``MALLOC_TRIM_THRESHOLD_=1048576``: setting the mmap threshold also pins the trim threshold at
its 128 KB default, so that 256 KB buffer, freed at the top of the heap, was handed back to
the kernel at once and taken again by the next call (the same cost). Storage actors trim their
heap after each sync and window themselves (``lean.release_memory``), so this only lets a
process keep up to 1 MB of free heap between calls.

Memory measured in ``bench/actor_memory.py``, the serializer's page faults in
``tests/test_ray_env.py``. Every process of the node inherits them from ``ray
start``/``ray.init`` (Ray's own daemons run on jemalloc and ignore them).
"""
from __future__ import annotations

import os

NODE_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "524288", "MALLOC_TRIM_THRESHOLD_": "1048576"}


def node_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``NODE_ENV`` added where the operator set nothing."""
    return {**{k: v for k, v in NODE_ENV.items() if k not in env}, **env}


def apply_node_env() -> None:
    """For a cluster ``ray.init`` starts inside this process: its processes inherit ours."""
    for key, value in NODE_ENV.items():
        os.environ.setdefault(key, value)
