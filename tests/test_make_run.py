"""`make run` on its embedded defaults, by a user for whom Ray has never run (no Ray token yet):
reaches ready, answers, keeps the API token out of every Ray process, listens on loopback only,
and Ctrl-C leaves nothing behind."""
import json
import os
import re
import signal
import subprocess
import time

import psutil
import requests

from rayactors.ray_env import NODE_ENV

from .helpers import ROOT, free_port, is_loopback, listening

TOKEN = "make-run-t0ken-5e3c"


def service_processes(data_dir, launcher: psutil.Process) -> list[psutil.Process]:
    """Every process of the service: the Ray head `up` started (found by its session, with their
    children: workers rename themselves) and what the launcher started (the simulator)."""
    session = json.loads((data_dir / "cluster.json").read_text())["session"]
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if session in " ".join(p.info["cmdline"] or []):
                for q in [p, *p.children(recursive=True)]:
                    found[q.pid] = q
        except psutil.Error:
            continue
    for q in launcher.children(recursive=True):
        found[q.pid] = q
    return list(found.values())


def grpc_refuses_without_token(port: int) -> bool:
    """A gRPC call without Ray's cluster token is UNAUTHENTICATED (not served, not UNIMPLEMENTED)."""
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/ray.serve.ASGIService/HandleRequest",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            call(b"", timeout=10)
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.UNAUTHENTICATED
    return False


def test_make_run_ready_query_and_clean_stop(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "PYTEST_CURRENT_TEST", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env["DELFIN_DM_API_TOKEN"] = TOKEN
    env["HOME"] = str(tmp_path / "home")    # a user for whom Ray has never run: no Ray token yet
    (tmp_path / "home").mkdir()
    proc = subprocess.Popen(["make", "-s", "run", f"ARGS=--port {port} --data-dir {tmp_path} --volumes 50"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    started: list[psutil.Process] = []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        url = None
        deadline = time.monotonic() + 300
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"delfin-dm ready: (http://\S+)", line)
            if m:
                url = m.group(1)
            if url and line.startswith("Ctrl-C"):
                break
        assert url == f"http://127.0.0.1:{port}", "".join(lines[-30:])
        assert requests.get(f"{url}/v1/storages", timeout=30).status_code == 401
        storages = requests.get(f"{url}/v1/storages", headers=auth, timeout=30).json()["storages"]
        # three of our simulated arrays, plus a FlashArray, a Unity and a Storwize run by Delfin's drivers
        assert len(storages) == 6, storages
        assert sorted(s["vendor"] for s in storages) == ["DELL EMC", "IBM", "PURE", "simulator", "simulator",
                                                         "simulator"]
        for s in storages:
            state = requests.get(f"{url}/v1/storages/{s['id']}/state", headers=auth, timeout=30).json()
            assert state["state"] == "ready", (s["vendor"], state)
        vols = requests.get(f"{url}/v1/volumes", params={"storage_id": storages[0]["id"]}, headers=auth, timeout=30)
        assert vols.status_code == 200

        launcher = next(p for p in psutil.Process(proc.pid).children(recursive=True)
                        if "delfin-dm" in " ".join(p.cmdline()) and "up" in p.cmdline())
        started = service_processes(tmp_path, launcher)
        names = {p.name() for p in started}
        assert {"gcs_server", "raylet"} <= names and any("Supervisor" in n for n in names), names
        assert any("StorageSessionActor" in n for n in names), names
        # the API token reaches no Ray process: not its environment, not its command line
        for p in started:
            environ = open(f"/proc/{p.pid}/environ", "rb").read()
            assert TOKEN.encode() not in environ, (p.pid, p.name())
            assert TOKEN not in " ".join(p.cmdline()), (p.pid, p.name())
            if "StorageSessionActor" in p.name():       # glibc's settings (rayactors/ray_env.py)
                for key, value in NODE_ENV.items():
                    assert f"\0{key}={value}\0".encode() in b"\0" + environ, (p.pid, key)
        # and every port any of them listens on is on loopback
        outside = [(n, a) for n, a in listening(started) if not is_loopback(a.ip)]
        # the one exception Ray leaves no setting for (README, "Running on several nodes"): the
        # Serve replica's inter-deployment gRPC port, on every interface, behind Ray's token
        # Serve's replica (its process title names the method it is running, if any)
        assert [n.split(".")[0] for n, _ in outside] == ["ray::ServeReplica:delfin-dm-delfin:DelfinApi"], outside
        for _, addr in outside:
            assert grpc_refuses_without_token(addr.port)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = proc.stdout.read() if proc.stdout else ""
    gone, alive = psutil.wait_procs(started, timeout=60)
    assert alive == [], [(p.pid, p.name()) for p in alive]
    assert out.strip().splitlines()[-1] == "stopped", out[-2000:]
    assert not (tmp_path / "cluster.json").exists()
