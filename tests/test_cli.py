"""The delfin-dm CLI against the suite's Ray cluster: register, list, alerts, export, remove."""
import json
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq

from drivers.simulator.control import rest_access

from .helpers import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(manager, *args, stdin=None):
    env = dict(os.environ, DELFIN_DM_DATA_DIR=manager.cfg.data_dir, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "serve_app.cli", "--address", manager.address,
                           "--namespace", manager.cfg.namespace, *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_register_list_export_remove(manager_factory, simulator, tmp_path):
    m = manager_factory(scheduler_enabled=True, perf_overlap_s=0)
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 3})
    access = rest_access(arr, resource_metrics={"volume": ["iops"]})
    password = access["rest"]["password"]
    out = cli(m, "register", "--vendor", "simulator", "--model", "rest", "--host", "127.0.0.1",
              "--port", str(arr["rest_port"]), "--username", "admin", "--insecure-http", "--password-stdin",
              stdin=password + "\n")
    assert out.returncode == 0, out.stderr[-2000:]
    sid = json.loads(out.stdout)["id"]
    assert password not in out.stdout + out.stderr

    listing = cli(m, "list")
    assert listing.returncode == 0 and sid in listing.stdout and "ready" in listing.stdout

    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 2, 30, what="windows")
    target = tmp_path / "export.parquet"
    now = int(time.time() * 1000)
    exp = cli(m, "metrics", "export", "--storage", sid, "--start", str(now - 600_000), "--end", str(now + 60_000),
              "-o", str(target), "--data-dir", m.cfg.data_dir)
    assert exp.returncode == 0, exp.stderr[-2000:]
    assert "hours" in exp.stderr                            # the progress bar
    assert pq.read_table(target).num_rows >= 6

    bad = cli(m, "remove", "no-such-storage")
    assert bad.returncode == 2 and json.loads(bad.stderr)["error_code"] == "StorageNotFound"
    assert cli(m, "alerts").returncode == 0
    assert cli(m, "remove", sid).returncode == 0
    assert m.client.list_storages() == []
