"""The delfin-dm CLI against the suite's Ray cluster: register, list, alerts, export, remove."""
import json
import os
import stat
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from drivers.simulator.control import rest_access

from .helpers import ROOT, wait_for


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
    assert bad.returncode == 2 and bad.stderr.strip() == \
        "delfin-dm: StorageNotFound: Storage no-such-storage could not be found."
    assert cli(m, "alerts").returncode == 0
    assert cli(m, "remove", sid).returncode == 0
    assert m.client.list_storages() == []


def test_detached_demo_outlives_up_and_stops_with_down(tmp_path):
    """`up --with-simulator --detach` exits; the demo arrays keep answering; `down` stops the
    Ray head it started and the simulator; afterwards a command says nothing runs (exit 2).
    Run by a user for whom Ray has never run (a new home: no Ray token), as on a new machine:
    `ray start` makes no token, so `up` writes one, readable by that user alone, which the
    commands after it use to join."""
    import psutil
    import requests

    from .helpers import free_port
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "PYTEST_CURRENT_TEST", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env["PYTHONPATH"], env["HOME"] = ROOT, str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    base = [sys.executable, "-m", "serve_app.cli", "--data-dir", str(tmp_path)]

    def run(*args, timeout=240):
        return subprocess.run([*base, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    up = run("up", "--with-simulator", "--detach", "--no-vendor-arrays", "--arrays", "1", "--ssh-arrays", "1",
             "--volumes", "5", "--port", str(port))
    assert up.returncode == 0, up.stdout[-1500:] + up.stderr[-1500:]
    assert "Detached: `delfin-dm down` stops everything" in up.stdout
    token = tmp_path / "home" / ".ray" / "auth_token"
    assert (stat.S_IMODE(token.stat().st_mode), stat.S_IMODE(token.parent.stat().st_mode)) == (0o600, 0o700)
    assert len(token.read_text()) == 64
    state = json.loads((tmp_path / "service.json").read_text())
    session = json.loads((tmp_path / "cluster.json").read_text())["session"]
    try:
        # a second `up` on the same data dir (another port) starts no second head: it would put a
        # second supervisor on the registry, and leave the first head without a `down`
        again = run("up", "--detach", "--no-vendor-arrays", "--port", str(free_port()), timeout=60)
        assert again.returncode == 2 and again.stderr.startswith(f"delfin-dm: already running for {tmp_path} ("), \
            again.stdout[-1500:] + again.stderr[-1500:]
        assert json.loads((tmp_path / "cluster.json").read_text())["session"] == session
        _joined_ups_that_would_break_it_start_nothing(run, tmp_path, port)
        time.sleep(8)                  # `up` has exited: what depended on its driver would be gone by now
        storages = requests.get(f"http://127.0.0.1:{port}/v1/storages", timeout=30).json()["storages"]
        assert len(storages) == 2
        for s in storages:
            assert requests.get(f"http://127.0.0.1:{port}/v1/storages/{s['id']}/state",
                                timeout=30).json()["state"] == "ready"
        status = run("status", "--json")
        assert status.returncode == 0, status.stderr[-1500:]
        assert json.loads(status.stdout)["storages"] == {"ready": 2}
        assert json.loads(status.stdout)["paths"] == {"registry": f"{tmp_path}/registry.sqlite",
                                                      "metrics": f"{tmp_path}/metrics"}
        recovery = json.loads(status.stdout)["recovery"]     # a first start: nothing to recover
        assert recovery["at"] and not any(v for k, v in recovery.items() if k != "at"), recovery
        table = run("status")
        assert table.returncode == 0 and "recovery" in table.stdout and "nothing to do" in table.stdout, table.stdout
        assert f"registry     {tmp_path}/registry.sqlite   metrics {tmp_path}/metrics" in table.stdout, table.stdout
        assert psutil.pid_exists(state["simulator_pid"])
    finally:
        down = run("down")
    assert down.returncode == 0, down.stderr[-1500:]
    assert not psutil.pid_exists(state["simulator_pid"]) or \
        psutil.Process(state["simulator_pid"]).status() == psutil.STATUS_ZOMBIE
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(session in " ".join(p.info["cmdline"] or [])
                                              for p in psutil.process_iter(["cmdline"])):
        time.sleep(0.5)
    assert not any(session in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
    again = run("down", timeout=60)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    listing = run("list", timeout=60)
    assert listing.returncode == 2 and listing.stderr.startswith("delfin-dm: nothing is running"), listing.stderr


def _joined_ups_that_would_break_it_start_nothing(run, data_dir, port: int) -> None:
    """`up --address` into the running one's cluster, each refused in one line (exit 2), before it
    deploys anything, and, above all, without stopping what it found running (a refused `up` used
    to tear down the cluster's HTTP app, Serve and the data dir's service.json): the same data
    dir; another data dir in the same namespace (the supervisor keeps its own registry and
    metrics, which the new HTTP app would not have read); another port (a cluster has one
    proxy; the banner gave the new port, Serve kept the old); another namespace (its app would
    take `/` from the running one)."""
    import requests
    address = json.loads((data_dir / "cluster.json").read_text())["address"]
    service = (data_dir / "service.json").read_text()
    refused = {
        "same data dir": (("--address", address, "up", "--detach", "--port", str(port)),
                          f"delfin-dm: already running for {data_dir} (Ray head {address}, HTTP "),
        "another data dir": (("--address", address, "--data-dir", str(data_dir / "b"), "up", "--detach",
                              "--port", str(port)),
                             f"delfin-dm: InvalidInput: Invalid input received. the driver manager in namespace "
                             f"'delfin' keeps its registry at {data_dir}/registry.sqlite and its metrics at "
                             f"{data_dir}/metrics, not at {data_dir}/b/registry.sqlite"),
        "another port": (("--address", address, "--data-dir", str(data_dir / "c"), "up", "--detach", "--port",
                          str(port + 1)),
                         f"delfin-dm: Serve in the cluster at {address} listens on 127.0.0.1:{port}, and a cluster "
                         f"has one HTTP proxy: run `up` with --host 127.0.0.1 --port {port}"),
        "another namespace": (("--address", address, "--namespace", "other", "--data-dir", str(data_dir / "d"),
                               "up", "--detach", "--port", str(port)),
                              f"delfin-dm: Serve in the cluster at {address} serves application 'delfin-dm-delfin' "
                              f"at /, where this driver manager's HTTP app ('delfin-dm-other') would go"),
    }
    for case, (args, said) in refused.items():
        out = run(*args, timeout=120)
        assert (out.returncode, out.stdout) == (2, ""), (case, out.stdout[-800:], out.stderr[-800:])
        assert out.stderr.startswith(said) and len(out.stderr.strip().splitlines()) == 1, (case, out.stderr)
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200, case
        assert (data_dir / "service.json").read_text() == service, case
    assert not any((data_dir / d / "service.json").exists() for d in "bcd")


def test_up_into_a_cluster_it_did_not_start_stops_only_what_it_started(tmp_path):
    """`up --address` into a Ray head someone else started (as `cluster.yaml` does after `ray
    start`): it starts the supervisor, Serve and its HTTP app there. `status` and `down`, given
    the data dir alone as the banner says, find that cluster through `service.json` (they said
    "nothing is running" before), and `down` stops those three and leaves the cluster running."""
    import psutil
    import requests

    from serve_app import local_cluster

    from .helpers import free_port
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = ROOT
    head, dm, port = tmp_path / "head", tmp_path / "dm", free_port()

    def run(*args):
        return subprocess.run([sys.executable, "-m", "serve_app.cli", "--data-dir", str(dm), *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=240)
    address = local_cluster.start(str(head))                # the operator's cluster, not ours
    try:
        gcs = [p for p in psutil.process_iter(["cmdline"]) if f"--gcs_server_port={address.split(':')[1]}"
               in (p.info["cmdline"] or [])]
        local_cluster.remember_session(str(head), next(w.split("=", 1)[1] for w in gcs[0].info["cmdline"]
                                                       if w.startswith("--session-name=")))
        up = run("--address", address, "up", "--detach", "--port", str(port))
        assert up.returncode == 0, up.stdout[-1500:] + up.stderr[-1500:]
        assert requests.get(f"http://127.0.0.1:{port}/v1/storages", timeout=30).json()["storages"] == []
        status = run("status", "--json")
        assert status.returncode == 0, status.stderr[-1500:]
        assert json.loads(status.stdout)["supervisor"] == "up" and json.loads(status.stdout)["http"]["up"]
        down = run("down")
        assert (down.returncode, down.stdout.strip()) == \
            (0, "stopped the HTTP app and the driver manager (storages stay registered)"), down.stderr[-1500:]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert gcs[0].is_running() and not (dm / "service.json").exists()
        gone = run("--address", address, "status")
        assert gone.returncode == 2 and gone.stderr.startswith(f"delfin-dm: no driver manager in the cluster at "
                                                              f"{address}"), gone.stderr[-1500:]
    finally:
        assert local_cluster.stop(str(head)) > 0


def test_up_says_in_one_line_why_it_cannot_start_and_starts_nothing(tmp_path):
    """What `up` cannot start is one line on stderr and exit status 2, never a traceback, and
    leaves nothing behind: its HTTP port taken (said before a Ray head is started: Serve's proxy
    would fail once the head is up, after some 18 s, with a traceback), and a Ray head that does
    not start, here for want of the token Ray is told to use (``RAY_AUTH_TOKEN_PATH`` names no
    file: `up` writes none in its place, a token named is the operator's)."""
    import socket

    from .helpers import free_port
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTEST_CURRENT_TEST", "RAY_AUTH_TOKEN")}
    env.update(PYTHONPATH=ROOT, HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()

    def up(port, **extra):
        done = subprocess.run([sys.executable, "-m", "serve_app.cli", "--data-dir", str(tmp_path / "dm"), "up",
                               "--port", str(port)], cwd=ROOT, env={**env, **extra}, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "dm" / "cluster.json").exists()
        return done
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = up(port)
    assert busy.stderr.startswith(f"delfin-dm: cannot listen on 127.0.0.1:{port}: in use"), busy.stderr
    assert "starting a Ray head" not in busy.stdout and not (tmp_path / "home" / ".ray").exists()
    no_token = up(free_port(), RAY_AUTH_TOKEN_PATH=str(tmp_path / "absent"))
    assert no_token.stderr.startswith("delfin-dm: ray start failed: ") and str(tmp_path / "absent") in no_token.stderr
    assert not (tmp_path / "absent").exists() and not (tmp_path / "home" / ".ray").exists()


def test_a_bad_file_or_option_is_one_line_before_any_cluster_is_asked(tmp_path):
    """``--file`` missing, not JSON or not an object, ``--extra`` without ``=``, an export's ``-o``
    in no directory: one line with Delfin's InvalidInput and exit status 2 (a traceback before),
    said before anything is asked of a cluster (none runs here) or read, and, for ``--extra``,
    before the password is read. An export that meets a damaged metrics file says which and
    leaves no half-written output."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("RAY_ADDRESS", None)
    (tmp_path / "bad.json").write_text("{bad")
    (tmp_path / "list.json").write_text("[1]")
    cases = {("register", "--file", str(tmp_path / "absent.json")): "absent.json: No such file or directory",
             ("register", "--file", str(tmp_path / "bad.json")): "bad.json is not JSON: Expecting property name",
             ("register", "--file", str(tmp_path / "list.json")): "the access info is a JSON object, not a list",
             ("update-access-info", "st-1", "--file", str(tmp_path / "bad.json")): "bad.json is not JSON",
             ("register", "--vendor", "v", "--model", "m", "--host", "127.0.0.1", "--port", "1", "--username", "u",
              "--extra", "verify", "--password-stdin"): "--extra takes KEY=VALUE, not 'verify'",
             ("metrics", "export", "--storage", "st-1", "--start", "-1h", "-o", str(tmp_path / "absent" / "out.parquet")):
             "absent/out.parquet: cannot be written ("}
    for args, said in cases.items():
        done = subprocess.run([sys.executable, "-m", "serve_app.cli", "--data-dir", str(tmp_path), *args], cwd=ROOT,
                              env=env, input="", capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stderr[-1500:])
        assert done.stderr.startswith("delfin-dm: InvalidInput: ") and said in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    # a window file damaged from outside (ours are renamed in whole): said, and no half export left
    damaged = tmp_path / "metrics" / "storage_id=st-1" / "date=2026-12-03" / "w-1-2.parquet"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("not parquet")
    out = tmp_path / "out.parquet"
    done = subprocess.run([sys.executable, "-m", "serve_app.cli", "--data-dir", str(tmp_path), "metrics", "export",
                           "--storage", "st-1", "--start", "-1h", "-o", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.stderr.splitlines()[-1].startswith("delfin-dm: InvalidResults: ") and str(damaged) in done.stderr
    assert not out.exists()


def test_rays_warnings_go_to_stderr_and_the_output_alone_to_stdout(capsys):
    """Ray's driver thread prints the cluster's warnings with ``print_to_stdstream`` on
    ``sys.stdout`` (a raylet warning once broke ``json.loads`` of ``register``'s output here):
    within a command they reach stderr, and only what the command says reaches stdout."""
    from ray._private.worker import print_to_stdstream

    from serve_app.output import chatter_to_stderr, say
    with chatter_to_stderr():
        print_to_stdstream({"lines": ["WARNING: 8 PYTHON worker processes have been started"],
                            "pid": "raylet", "is_err": False}, ignore_prefix=False)
        say('{"id": "x"}')
    out, err = capsys.readouterr()
    assert json.loads(out) == {"id": "x"}
    assert "8 PYTHON worker processes" in err
    print("after")                                   # stdout is the process's own again
    say("said after")                                # and say writes to it, as it is now
    assert capsys.readouterr().out == "after\nsaid after\n"
