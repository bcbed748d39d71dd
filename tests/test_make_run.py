"""`make run` on its embedded defaults: reaches ready, answers, and Ctrl-C leaves nothing behind."""
import os
import re
import signal
import socket
import subprocess
import time

import psutil
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_ready_query_and_clean_stop(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTEST_CURRENT_TEST")}
    proc = subprocess.Popen(["make", "-s", "run", f"ARGS=--port {port} --data-dir {tmp_path} --volumes 50"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    started: list[psutil.Process] = []
    try:
        url = None
        deadline = time.monotonic() + 240
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
        curl = next(ln for ln in lines if "curl -s" in ln and "/v1/storages" in ln).split()[-1]
        storages = requests.get(curl, timeout=30).json()["storages"]
        # three of our simulated arrays, plus a FlashArray and a Storwize run by Delfin's drivers
        assert len(storages) == 5, storages
        assert sorted(s["vendor"] for s in storages) == ["IBM", "PURE", "simulator", "simulator", "simulator"]
        for s in storages:
            state = requests.get(f"{url}/v1/storages/{s['id']}/state", timeout=30).json()
            assert state["state"] == "ready", (s["vendor"], state)
        vols = requests.get(f"{url}/v1/volumes", params={"storage_id": storages[0]["id"]}, timeout=30)
        assert vols.status_code == 200
        started = psutil.Process(proc.pid).children(recursive=True)
        assert any("delfin-dm" in " ".join(p.cmdline()) for p in started if p.is_running())
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    gone, alive = psutil.wait_procs(started, timeout=60)
    assert alive == [], [p.pid for p in alive]
