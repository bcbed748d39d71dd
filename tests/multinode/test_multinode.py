"""Several raylets on this machine (ray.cluster_utils.Cluster): node loss and cluster restart.

The scenario runs in its own process (it owns its Ray cluster; the suite's shared cluster
lives in this one). Marked slow; part of `make test`.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(600)
def test_node_loss_and_whole_cluster_restart():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, "-m", "tests.multinode.scenario"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=560)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, (proc.stdout[-2000:], proc.stderr[-4000:])
    r = json.loads(line[len("RESULT "):])
    assert r["per_node"] == [2, 2, 2]                  # balanced: two sessions per node
    assert r["storages_on_removed_node"] == 2
    assert r["supervisor_on_removed_node"]             # the supervisor's node is the one lost
    assert r["recovery_s"] < 30
    assert r["reconcile"]["orphans_killed"] == 0
    assert r["placed_after"] == {"nodes": 2, "storages": 6}   # placement counts the moved actors
    assert r["list_volumes_after"] == [4] * 6         # old client, old handles: recovered
    assert r["logins_moved"] == [2] * r["storages_on_removed_node"]   # one more login each
    assert all(n == 1 for n in r["logins_stayed"])
    assert r["active_sessions"] == [1] * 6             # the dead node's sessions are not reused
    for phase in ("after_node_loss", "after_cluster_restart"):
        for sid, c in r[phase].items():
            assert c["duplicates"] == 0 and c["gaps"] == 0, (phase, sid, c)
    assert r["windows_lost_total"] == 0
    assert r["logins_after_restart"] == [1] * 6
    assert r["active_sessions_end"] == [0] * 6
