"""Where a new storage actor runs: on the alive node with the fewest storage sessions.

Ray's ``SPREAD`` is best effort for zero-CPU actors (it can leave a node empty while another
holds half the fleet), so the supervisor balances by count itself and pins each actor with a
*soft* node affinity: if that node dies, Ray restarts the actor on a surviving node.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Optional

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def alive_node_ids(min_cpus: float = 0.0) -> list[str]:
    """Alive nodes that can host an actor asking ``min_cpus`` (a head started with
    ``--num-cpus=0`` to keep work off it is left out)."""
    return sorted(n["NodeID"] for n in ray.nodes()
                  if n.get("Alive") and n.get("Resources", {}).get("CPU", 0.0) >= min_cpus)


class NodeBalancer:
    """Counts storage actors per node (as placed or as reported) and picks the emptiest."""

    def __init__(self, nodes: Optional[Callable[[], list[str]]] = None, min_cpus: float = 0.0) -> None:
        self._nodes = nodes or (lambda: alive_node_ids(min_cpus))
        self._where: dict[str, str] = {}
        self._lock = threading.Lock()

    def _load(self, alive: list[str], exclude: Optional[str] = None) -> dict[str, int]:
        """Storage actors per alive node (caller holds the lock)."""
        load = {n: 0 for n in alive}
        for sid, node in self._where.items():
            if node in load and sid != exclude:
                load[node] += 1
        return load

    def counts(self) -> dict[str, int]:
        alive = self._nodes()
        with self._lock:
            return self._load(alive)

    def place(self, storage_id: str) -> Optional[NodeAffinitySchedulingStrategy]:
        """The strategy for a new actor of ``storage_id``; None when no node is known."""
        alive = self._nodes()
        if not alive:
            return None
        with self._lock:
            load = self._load(alive, exclude=storage_id)
            node = min(alive, key=lambda n: (load[n], n))
            self._where[storage_id] = node
        return NodeAffinitySchedulingStrategy(node, soft=True)

    def observe(self, placements: Iterable[tuple[str, Optional[str]]]) -> None:
        """Record where actors really run (after a restart Ray may have moved them)."""
        with self._lock:
            for sid, node in placements:
                if node:
                    self._where[sid] = node

    def forget(self, storage_id: str) -> None:
        with self._lock:
            self._where.pop(storage_id, None)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._where)
