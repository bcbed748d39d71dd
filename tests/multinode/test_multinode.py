"""Several raylets on this machine (ray.cluster_utils.Cluster): node loss and cluster restart.

The scenario runs in its own process (it owns its Ray cluster; the suite's shared cluster
lives in this one). Marked slow; part of `make test`.
"""
import json
import os
import subprocess
import sys

import pytest

from ..helpers import ROOT


@pytest.mark.timeout(600)
def test_node_loss_and_whole_cluster_restart():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, "-m", "tests.multinode.scenario"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=560)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, (proc.stdout[-2000:], proc.stderr[-4000:])
    r = json.loads(line[len("RESULT "):])
    assert r["per_node"] == [2, 2, 2], r               # balanced: two sessions per node
    assert r["listening_outside_loopback"] == [], r    # head, workers and simulator alike
    assert r["storages_on_removed_node"] == 2, r
    assert r["supervisor_on_removed_node"], r          # the supervisor's node is the one lost
    assert r["recovery_s"] < 30, r
    assert r["reconcile"]["orphans_killed"] == 0 and r["reconcile"]["recreated"] == 0, r
    assert r["placed_after"] == {"nodes": 2, "storages": 6}, r   # placement counts the moved actors
    assert r["list_volumes_after"] == [4] * 6, r      # old client, old handles: recovered
    assert r["logins_moved"] == [2] * r["storages_on_removed_node"], r   # one more login each
    # no login on the surviving nodes but one following a session the array itself dropped (its
    # idle expiry is 5 s here, so the dead node's tokens lapse; a starved actor can reach it too)
    assert all(1 <= n <= 1 + e for n, e in zip(r["logins_stayed"], r["expired_stayed"])), r
    assert r["active_sessions"] == [1] * 6, r          # the dead node's sessions are not reused
    for phase in ("after_node_loss", "after_cluster_restart"):
        for sid, c in r[phase].items():
            assert c["duplicates"] == 0 and c["gaps"] == 0, (phase, sid, c)
    assert r["windows_lost_total"] == 0, r
    assert r["logins_after_restart"] == [1] * 6, r
    assert r["active_sessions_end"] == [0] * 6, r
