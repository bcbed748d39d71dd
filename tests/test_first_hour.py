"""A new user's first hour with the CLI and the simulator (issue 16), through subprocesses: no
dead ends, help everywhere, one clear line when nothing runs."""
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import requests

from .helpers import ROOT


def cli(*args, env_extra=None, stdin=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "DELFIN_DM_CONFIG")}
    env.update(PYTHONPATH=ROOT, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "serve_app.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_help_needs_no_ray_and_every_option_has_help():
    probe = subprocess.run([sys.executable, "-c",
                            "import sys\nfrom serve_app import cli\n"
                            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
                            "print('RAY' if 'ray' in sys.modules else 'NO-RAY')"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip().splitlines()[-1] == "NO-RAY"
    assert "``" not in probe.stdout                     # no raw markup in the description
    from serve_app.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in [("delfin-dm", parser), *sub.choices.items()]:
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"


def test_nothing_running_is_one_line_and_exit_2(tmp_path):
    for args in (["list"], ["down"], ["status"], ["show", "x"], ["alerts"]):
        out = cli("--data-dir", str(tmp_path), *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("delfin-dm: nothing is running"), \
            out.stderr


def test_register_with_vendor_simulator_is_not_the_simulator_command(tmp_path):
    out = cli("--data-dir", str(tmp_path), "register", "--vendor", "simulator", "--model", "rest", "--host",
              "127.0.0.1", "--port", "1", "--username", "admin", "--password-stdin", stdin="pw\n")
    assert out.returncode == 2 and out.stderr.startswith("delfin-dm: nothing is running"), out.stderr


def test_simulator_help_names_the_cli_and_admin_api_refuses_bad_arrays_clearly(simulator):
    out = cli("simulator", "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: delfin-dm simulator")
    for body, words in (({}, "an array needs name, seed, users"), ({"name": "a", "seed": "x", "users": {}},
                                                                    "seed must be int")):
        r = requests.post(f"{simulator.admin}/arrays", json=body, timeout=10)
        assert r.status_code == 400 and words in r.json()["error"] and "TypeError" not in r.text


def test_config_shows_each_value_and_where_it_came_from(tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text('bulk_inflight = 2\nsync_interval_s = 1200\n')
    out = cli("--data-dir", str(tmp_path), "config", "--json",
              env_extra={"DELFIN_DM_CONFIG": str(conf), "DELFIN_DM_SYNC_INTERVAL_S": "300"})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["bulk_inflight"] == {"value": 2, "source": f"file {conf}"}
    assert data["sync_interval_s"] == {"value": 300, "source": "environment DELFIN_DM_SYNC_INTERVAL_S"}
    assert data["data_dir"]["source"] == "argument" and data["namespace"]["source"] == "default"
    bad = cli("config", env_extra={"DELFIN_DM_CONFIG": str(tmp_path / "missing.toml")})
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_completion_and_drivers_list(tmp_path):
    comp = cli("completion", "bash")
    assert comp.returncode == 0 and "complete -F _delfin_dm delfin-dm" in comp.stdout and "update-access-info" in comp.stdout
    drivers = json.loads(cli("drivers", "--json").stdout)
    assert {"simulator rest", "pure flasharray"} <= {d["name"] for d in drivers}


def test_metrics_export_with_no_points_writes_an_empty_file_and_says_why(tmp_path):
    target = tmp_path / "none.parquet"
    out = cli("--data-dir", str(tmp_path), "metrics", "export", "--storage", "nobody", "--start", "-2h",
              "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert target.exists() and pq.read_table(target).num_rows == 0
    assert "wrote 0 rows" in out.stderr and "no points at all for nobody" in out.stderr
