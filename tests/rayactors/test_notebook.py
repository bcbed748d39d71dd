"""The notebook example runs headless, end to end."""
import os
import subprocess
import sys
import uuid

from rayactors import Config
from rayactors.naming import live_storage_actor_ids
from rayactors.runtime import stop_supervisor

from ..helpers import ROOT


def test_metrics_notebook_runs(ray_cluster, tmp_path):
    ns = f"nb-{uuid.uuid4().hex[:6]}"
    plot = tmp_path / "iops.png"
    env = dict(os.environ, RAY_ADDRESS=ray_cluster, DELFIN_DM_NAMESPACE=ns,
               DELFIN_DM_DATA_DIR=str(tmp_path / "data"), NOTEBOOK_PLOT=str(plot), PYTHONPATH=ROOT)
    try:
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "metrics.py")], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "points from 2 storages" in proc.stdout
        assert plot.stat().st_size > 10_000
        assert live_storage_actor_ids(ns) == set()
    finally:
        stop_supervisor(Config(namespace=ns), timeout_s=0)
