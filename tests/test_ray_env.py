"""glibc's settings for the clusters this package starts (rayactors/ray_env.py), checked by what
they do to Ray's serializer in a fresh process: counted page faults, not time."""
from __future__ import annotations

import os
import subprocess
import sys

from rayactors.ray_env import NODE_ENV, node_env

#: Ray's own serializer for one call argument, 2,000 times; prints the minor page faults taken
SERIALIZE_2000 = """
import resource
from ray._raylet import MessagePackSerializer
for _ in range(10):
    MessagePackSerializer.dumps("warm-up", lambda o: 0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(2000):
    MessagePackSerializer.dumps("get_capabilities", lambda o: 0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", SERIALIZE_2000], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return int(out.stdout.strip())


def test_serializing_a_call_argument_maps_no_memory():
    """msgpack takes a 256 KB buffer per value: with the mmap threshold under it (or the trim
    threshold left at 128 KB) every argument and result of every Ray call was mapped and
    unmapped, a fresh page fault each time."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _faults(node_env(clean)) < 100
    # the same count sees the cost where it is paid (the settings before this fix)
    assert _faults({**clean, "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}) >= 2000
    assert _faults({**clean, "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": NODE_ENV["MALLOC_MMAP_THRESHOLD_"]}) >= 2000


def test_cluster_yaml_starts_ray_with_the_same_settings():
    """cluster.yaml's ``ray start`` lines cannot import ray_env: they must not drift from it."""
    yaml_text = open(os.path.join(os.path.dirname(__file__), "..", "cluster.yaml")).read()
    starts = [line for line in yaml_text.splitlines() if "ray start" in line]
    assert len(starts) == 2
    for line in starts:
        for key, value in NODE_ENV.items():
            assert f" {key}={value} " in line, (key, line)
