"""The glibc settings of the clusters this package starts (rayactors/ray_env.py) are the same
wherever Ray is started: cluster.yaml cannot import them."""
from __future__ import annotations

import os

from rayactors.ray_env import NODE_ENV


def test_cluster_yaml_starts_ray_with_the_same_settings():
    yaml_text = open(os.path.join(os.path.dirname(__file__), "..", "cluster.yaml")).read()
    starts = [line for line in yaml_text.splitlines() if "ray start" in line]
    assert len(starts) == 2
    for line in starts:
        for key, value in NODE_ENV.items():
            assert f" {key}={value} " in line, (key, line)
