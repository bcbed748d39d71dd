"""What ``delfin-dm up``, ``down`` and ``status`` do: start the driver manager (a loopback Ray head
of its own unless given a cluster address, the supervisor, the HTTP app, and with
``--with-simulator`` demo arrays), stop exactly what it started, and tell what runs.

State of a running service lives in ``<data_dir>``: ``cluster.json`` (the head it started, see
``local_cluster``) and ``service.json`` (HTTP URL, the demo simulator's PID and storages), so
``down`` can undo a detached ``up`` and ``status`` can find it.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any, NamedTuple, Optional

from . import local_cluster
from .output import say

SERVICE_FILE = "service.json"
log = logging.getLogger("delfin_dm.service")


class NotRunning(Exception):
    """Nothing to talk to: no cluster, or no driver manager in it (the CLI exits with 2)."""


def _quiet_ray_logs() -> None:
    for name in ("ray", "ray.serve", "ray._private", "ray.dashboard"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load_state(data_dir: str) -> dict[str, Any]:
    try:
        return json.loads((Path(data_dir) / SERVICE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _save_state(data_dir: str, state: dict[str, Any]) -> None:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / (SERVICE_FILE + ".tmp")).write_text(json.dumps(state))
    (path / (SERVICE_FILE + ".tmp")).replace(path / SERVICE_FILE)


def connect(cfg: Any, address: Optional[str]) -> str:
    """Join ``address``, or the head ``up`` started for this data dir, or the cluster an ``up``
    for this data dir joined (``service.json``); NotRunning otherwise."""
    from rayactors.runtime import init_ray
    address = (address or os.environ.get("RAY_ADDRESS") or (local_cluster.load(cfg.data_dir) or {}).get("address")
               or load_state(cfg.data_dir).get("address"))
    if not address:
        raise NotRunning(f"nothing is running for {cfg.data_dir} (start it with: delfin-dm up)")
    _quiet_ray_logs()
    if address != "auto" and not _listening(address):
        raise NotRunning(f"no Ray cluster at {address} (start it with: delfin-dm up)")
    try:
        init_ray(cfg, address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise NotRunning(f"no Ray cluster at {address} ({type(exc).__name__})") from None
    return address


def _listening(address: str) -> bool:
    """A TCP connect to the GCS: Ray itself would retry a dead address for minutes."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _check_not_running(data_dir: str) -> None:
    """StartFailed when an ``up`` already runs for this data dir, its own head or its HTTP app
    in a cluster it joined: a second head would start a second supervisor on the same registry
    (which refuses it, see ``rayactors.registry_lock``, only after the head is up), and a second
    ``up`` of either kind would take over the first one's ``service.json``, leaving it without a
    ``down``."""
    head = local_cluster.load(data_dir) or {}
    url = load_state(data_dir).get("url")
    live_head = bool(head.get("address")) and _listening(head["address"])
    if live_head or (url and _answers(url)):
        where = ", ".join([f"Ray head {head['address']}"] * live_head + [f"HTTP {url}"] * bool(url))
        raise local_cluster.StartFailed(
            f"already running for {data_dir} ({where}): `delfin-dm down --data-dir {data_dir}` stops it; "
            f"`delfin-dm status` tells what runs")


def _answers(url: str, timeout: float = 3) -> bool:
    """Whether the HTTP app at ``url`` answers its health check."""
    import urllib.request
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout) as answer:
            return answer.status == 200
    except (OSError, ValueError):
        return False


def _check_port_free(host: str, port: int) -> None:
    """StartFailed when ``host:port`` cannot be listened on (taken, or not ours to take), said
    before anything starts: Serve's proxy would fail only after the Ray head is up, with a
    traceback. Bound as Serve's server binds (``SO_REUSEADDR``), so a port in TIME_WAIT passes."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _cannot_listen(host, port, "in use" if exc.errno == errno.EADDRINUSE
                                 else (exc.strerror or str(exc)).lower()) from None


def _check_serve_is_ours_to_use(serving: Any, address: str, args: Any, ours: str) -> None:
    """StartFailed, before anything starts, when Serve already runs in a joined cluster where our
    app cannot go: on another host or port (a cluster has one HTTP proxy, and Serve would keep
    its own while the banner said ours), or with another application at ``/`` (another
    namespace's driver manager, or not ours at all), which deploying would replace or fail on."""
    if serving is None:
        return
    if serving.port is not None and (serving.host, serving.port) != (args.host, args.port):
        raise local_cluster.StartFailed(
            f"Serve in the cluster at {address} listens on {serving.host}:{serving.port}, and a cluster has "
            f"one HTTP proxy: run `up` with --host {serving.host} --port {serving.port}")
    taken = sorted(name for name, prefix in serving.apps.items() if prefix == "/" and name != ours)
    if taken:
        raise local_cluster.StartFailed(
            f"Serve in the cluster at {address} serves application {taken[0]!r} at /, where this "
            f"driver manager's HTTP app ({ours!r}) would go: stop that one first, or run this one in a "
            f"cluster of its own (`up` without --address)")


def _cannot_listen(host: str, port: int, why: str) -> Exception:
    return local_cluster.StartFailed(f"cannot listen on {host}:{port}: {why} (another delfin-dm up? "
                                     f"`delfin-dm status` tells); choose another with --port")


def up(cfg: Any, args: Any) -> int:
    """Start everything; block until Ctrl-C unless ``args.detach``; stop what was started."""
    import ray

    from rayactors.client import DriverManagerClient
    from rayactors.naming import lookup
    from rayactors.runtime import ensure_supervisor

    from .deploy import app_name, deploy, serve_in_cluster, shutdown

    token = os.environ.pop("DELFIN_DM_API_TOKEN", None)    # only its hash goes to Ray, never the token
    address = args.address or os.environ.get("RAY_ADDRESS")
    own_cluster = not address
    _check_not_running(cfg.data_dir)
    if own_cluster:      # (in a cluster given, our HTTP app may hold the port already: deployed again)
        _check_port_free(args.host, args.port)
        say("starting a Ray head on 127.0.0.1 ...")
        address = local_cluster.start(cfg.data_dir)
    connect(cfg, address)
    if own_cluster:
        local_cluster.remember_session(cfg.data_dir, ray._private.worker.global_worker.node.session_name)
        found = Found(supervisor=False, app=False)
    else:                # what runs already stays running, whatever becomes of this `up`
        serving = serve_in_cluster()
        _check_serve_is_ours_to_use(serving, address, args, app_name(cfg.namespace))
        found = Found(supervisor=lookup(cfg.supervisor_name, cfg.namespace) is not None,
                      app=bool(serving and app_name(cfg.namespace) in serving.apps))
    sim, demo_ids = None, []
    client, failed = None, False
    try:
        ensure_supervisor(cfg, strict=True)
        try:
            url = deploy(cfg, host=args.host, port=args.port, api_token=token or "")
        except RuntimeError as exc:               # Serve's proxy, when the port was taken after all
            if "Failed to bind" not in str(exc):
                raise
            raise _cannot_listen(args.host, args.port, "in use") from None
        client = DriverManagerClient(config=cfg)
        if args.with_simulator:
            sim, demo_ids = _demo(client, args, cfg.data_dir)
        _save_state(cfg.data_dir, {"url": url, "address": address, "simulator_pid": sim.proc.pid if sim else None,
                                   "demo_storages": demo_ids, "detached": bool(args.detach),
                                   "found": {"supervisor": found.supervisor, "app": found.app}})
        _banner(url, address, cfg, demo_ids, sim, bool(args.detach))
        if args.detach:
            return 0
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        say("stopping ...")
    except BaseException:
        failed = True                          # a failed start leaves nothing of its own behind
        raise
    finally:
        if not args.detach or failed:
            _teardown(cfg, client, demo_ids, sim.proc.pid if sim else None, own_cluster, shutdown, keep=found)
            if not failed or own_cluster:      # the reason follows a failure; what ran before runs on
                say("stopped" if not failed else "stopped the Ray head it had started")
    return 0


class Found(NamedTuple):
    """What ran before an ``up`` that joined a cluster, and so outlives it (and its ``down``):
    the supervisor of its namespace, and our HTTP app."""
    supervisor: bool
    app: bool


def down(cfg: Any, args: Any) -> int:
    """Stop what ``up`` started for this data dir (detached too); storages stay registered,
    except the demo ones, whose arrays stop with it."""
    from rayactors.client import DriverManagerClient

    from .deploy import shutdown
    state = load_state(cfg.data_dir)
    own_cluster = local_cluster.load(cfg.data_dir) is not None and not args.address
    connect(cfg, args.address)
    client = DriverManagerClient(config=cfg)
    found = state.get("found") or {}
    keep = Found(supervisor=bool(found.get("supervisor")), app=bool(found.get("app")))
    _teardown(cfg, client, state.get("demo_storages") or [], state.get("simulator_pid"), own_cluster, shutdown,
              keep=keep)
    parts = (("the HTTP app", keep.app), ("the driver manager", keep.supervisor))
    stopped = [what for what, kept in parts if not kept] + (["its Ray head"] if own_cluster else [])
    joined = [what for what, kept in parts if kept]
    say(f"stopped {' and '.join(stopped) or 'nothing it did not find running'} (storages stay registered)"
        + (f"; {' and '.join(joined)}, running before that up, run on" if joined else ""))
    return 0


def _teardown(cfg: Any, client: Any, demo_ids: list[str], simulator_pid: Optional[int], own_cluster: bool,
              shutdown: Any, keep: Found = Found(False, False)) -> None:
    """Stop what ``up`` started, except what ``keep`` says ran before it."""
    import ray

    from drivers.errors import DelfinError
    from rayactors.runtime import stop_supervisor
    for sid in demo_ids:                       # demo arrays stop with the simulator: forget them
        try:
            client.remove_storage(None, sid)
        except (DelfinError, AttributeError):
            pass
    try:
        if not keep.app:
            shutdown(cfg.namespace)
    except Exception as exc:  # the app may be gone already
        log.warning("HTTP app: %s", type(exc).__name__)
    try:
        if not keep.supervisor:
            stop_supervisor(cfg)
    except Exception as exc:  # Ray itself may be gone: the steps below still run
        log.warning("driver manager: %s", type(exc).__name__)
    ray.shutdown()
    if own_cluster:
        local_cluster.stop(cfg.data_dir)
    if simulator_pid:
        from drivers.simulator.control import stop_pid
        stop_pid(simulator_pid)
    (Path(cfg.data_dir) / SERVICE_FILE).unlink(missing_ok=True)      # no live up's: checked before it started


def status(cfg: Any, args: Any) -> dict[str, Any]:
    """Ray, the supervisor, the HTTP app and the storages by state."""
    from rayactors.client import DriverManagerClient
    state = load_state(cfg.data_dir)
    address = connect(cfg, args.address)
    client = DriverManagerClient(config=cfg)
    import ray
    out: dict[str, Any] = {"ray": {"address": address, "nodes": len([n for n in ray.nodes() if n.get("Alive")])},
                           "supervisor": "down", "http": {"url": state.get("url"), "up": False}, "storages": {}}
    try:
        ping = client._call_supervisor("ping")
        out["supervisor"] = "up" if ping["ok"] else "down"
        out["paths"] = ping.get("paths")        # where it keeps them: those of the up that started it
    except Exception:
        raise NotRunning(f"no driver manager in the cluster at {address} (start it with: delfin-dm up)") from None
    out["http"]["up"] = bool(state.get("url")) and _answers(state["url"], timeout=5)
    by_state: dict[str, int] = {}
    for s in client.list_storages():
        try:
            st = client.storage_state(s["id"])["state"]
        except Exception:  # restarting: say so
            st = "unknown"
        by_state[st] = by_state.get(st, 0) + 1
    out["storages"] = by_state
    out["recovery"] = client.recovery_report()
    return out


def _demo(client: Any, args: Any, data_dir: str) -> tuple[Any, list[str]]:
    """Simulated arrays: ours (REST and SSH), plus a FlashArray, a Unity and a Storwize run by SODA
    Delfin's own drivers when they are installed. Detached, the simulator outlives this command."""
    from drivers.delfin_host import delfin_entry_points
    from drivers.simulator.control import (SimulatorProcess, pure_access, rest_access, ssh_access, storwize_access,
                                           unity_access)
    sim = SimulatorProcess(detached=bool(args.detach), log_dir=data_dir)
    ids = []
    for i in range(args.arrays + args.ssh_arrays):
        arr = sim.add_array(name=f"demo-{i}", perf_interval=args.perf_interval, sizes={"volumes": args.volumes})
        access = (ssh_access if i >= args.arrays else rest_access)(arr)
        ids.append(client.discover_storage(None, access)["id"])
    vendors = {"pure flasharray": ("pure", pure_access), "dellemc unity": ("unity", unity_access),
               "ibm storwize_svc": ("storwize", storwize_access)}
    for name, (kind, make_access) in vendors.items():
        if args.vendor_arrays and name in delfin_entry_points():
            arr = sim.add_array(name=f"demo-{kind}", kind=kind, perf_interval=args.perf_interval,
                                sizes={"volumes": min(args.volumes, 100)})
            access = make_access(arr)
            access["extra_attributes"] = {**access.get("extra_attributes", {}),
                                          "collect_interval": str(args.perf_interval)}
            ids.append(client.discover_storage(None, access)["id"])
    return sim, ids


def _banner(url: str, address: str, cfg: Any, ids: list[str], sim: Any, detached: bool) -> None:
    first = ids[0] if ids else "<storage-id>"
    say(f"""
delfin-dm ready: {url}
  dashboard    {url}/ui       API docs {url}/docs
  health       {url}/health   Prometheus {url}/metrics
  Ray address  {address}      namespace {cfg.namespace}
  data dir     {cfg.data_dir}{('   simulator admin ' + sim.admin) if sim else ''}

Try:
  curl -s {url}/v1/storages
  curl -s '{url}/v1/volumes?storage_id={first}' | head -c 400
  .venv/bin/delfin-dm list

In a notebook (after the first collection window):
  from rayactors import metrics
  df = metrics.read(storage_ids=["{first}"], root="{cfg.metrics_root}").to_pandas()
  df.pivot_table(index="timestamp", columns="resource_id", values="value", observed=True)
""")
    say("Detached: `delfin-dm down` stops everything this command started." if detached else
        "Ctrl-C stops everything this command started.")
