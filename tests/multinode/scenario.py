"""Multi-node scenario on a real Ray cluster of several raylets on this machine
(``ray.cluster_utils.Cluster``), run in its own process by test_multinode.py. Prints JSON.

1. Six storages balanced over head + 2 workers (two per node); the supervisor sits on worker 2.
2. Remove worker 2: its storage actors restart on surviving nodes and log in once more; the
   supervisor restarts and reconciles; a client holding old handles recovers; collection
   continues and the gap is backfilled.
3. Stop the whole cluster; start a new one on the same registry: every storage is back
   (ready, one login each) and the scheduler backfills what retention allows.
"""
import json
import shutil
import sys
import tempfile
import time

import psutil

import rayactors  # noqa: F401
import ray
from ray.cluster_utils import Cluster
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from drivers.simulator.control import SimulatorProcess, rest_access
from tests.helpers import is_loopback, listening
from rayactors import Config, start
from rayactors.runtime import loopback_only
from rayactors.supervisor import supervisor_class

SYSTEM = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}
SERIES = {"volume": ["iops"], "controller": ["cpuUsage"]}


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


def new_cluster():
    """Head and two workers, on loopback only as the service's own cluster is (without
    ``loopback_only`` Ray names each node by the machine's address and listens on it)."""
    loopback_only()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "include_dashboard": False, "_system_config": SYSTEM})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    return cluster, workers


def listening_outside_loopback() -> list:
    """Every (process, address) of this process's cluster that listens beyond loopback."""
    return [(n, a.ip) for n, a in listening(psutil.Process().children(recursive=True)) if not is_loopback(a.ip)]


def continuity(client, sid, step_ms=2000):
    from rayactors import metrics
    t = metrics.read(storage_ids=[sid], root=client.cfg.metrics_root)
    ts = t.column("timestamp").cast("int64").to_pylist()
    keys = list(zip(t.column("resource_id").to_pylist(), t.column("metric").to_pylist(), ts))
    stamps = sorted(set(ts))
    gaps = [b - a for a, b in zip(stamps, stamps[1:]) if b - a != step_ms]
    return {"points": len(keys), "duplicates": len(keys) - len(set(keys)), "gaps": len(gaps),
            "span_windows": len(stamps)}


def main() -> None:
    out: dict = {}
    data_dir = tempfile.mkdtemp(prefix="delfin-mn-")
    cfg = Config.load(namespace="mn", data_dir=data_dir, perf_overlap_s=0, fence_interval_s=1,
                      backoff_base_s=0.2, backoff_cap_s=2, control_timeout_s=30)
    sim = SimulatorProcess()
    cluster, (w1, w2) = new_cluster()
    try:
        ray.init(address=cluster.address, namespace="mn", log_to_driver=False)
        w2_id = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerPort"] == w2.node_manager_port)
        sup = supervisor_class(cfg).options(name=cfg.supervisor_name, namespace=cfg.namespace, lifetime="detached",
                                         scheduling_strategy=NodeAffinitySchedulingStrategy(w2_id, soft=True)
                                         ).remote(cfg.model_dump())
        sup_node = ray.get(sup.ping.remote())["node_id"]
        client = start(config=cfg)
        # idle expiry 5 s: the token of an actor that died with its node lapses, as on a real array
        arrays = [sim.add_array(name=f"mn-{i}", perf_interval=2, idle_timeout=5,
                                sizes={"volumes": 4, "controllers": 2}) for i in range(6)]
        ids = [client.discover_storage(None, rest_access(a, resource_metrics=SERIES))["id"] for a in arrays]
        by_id = dict(zip(ids, arrays))
        nodes = {sid: client.storage_state(sid)["node_id"] for sid in ids}
        out["nodes_used"] = len(set(nodes.values()))
        out["per_node"] = sorted(list(nodes.values()).count(n["NodeID"]) for n in ray.nodes() if n["Alive"])
        out["listening_outside_loopback"] = listening_outside_loopback()
        w1_id = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerPort"] == w1.node_manager_port)
        if sup_node == w1_id:       # soft affinity may place it elsewhere: remove its node then
            w1, w2, w1_id, w2_id = w2, w1, w2_id, w1_id
        out["supervisor_on_removed_node"] = sup_node == w2_id
        on_w2 = [sid for sid, n in nodes.items() if n == w2_id]
        out["storages_on_removed_node"] = len(on_w2)
        wait(lambda: all(client.collection_stats(s).get("windows_collected", 0) >= 2 for s in ids), 60, "windows")

        t0 = time.monotonic()
        cluster.remove_node(w2, allow_graceful=False)
        if out["supervisor_on_removed_node"]:
            wait(lambda: ray.get(client._supervisor().ping.remote(), timeout=5)["restarted"], 120, "supervisor restart")
        wait(lambda: all(client.storage_state(s)["state"] == "ready" and client.storage_state(s)["node_id"] != w2_id
                         for s in ids), 120, "actors back on surviving nodes")
        out["recovery_s"] = time.monotonic() - t0
        wait(lambda: ray.get(client._supervisor().reconcile_report.remote()).get("at"), 60, "reconcile")
        out["reconcile"] = {k: len(v) for k, v in ray.get(client._supervisor().reconcile_report.remote()).items()
                            if isinstance(v, list)}
        counted = client.placements()["nodes"]   # alive nodes only
        out["placed_after"] = {"nodes": len(counted), "storages": sum(counted.values())}
        out["list_volumes_after"] = [len(client.list_volumes(None, s)) for s in ids]   # old client, old handles
        out["logins_moved"] = [sim.stats(by_id[s]["name"])["logins"] for s in on_w2]
        stayed = [sim.stats(by_id[s]["name"]) for s in ids if s not in on_w2]
        out["logins_stayed"] = [st["logins"] for st in stayed]
        out["expired_stayed"] = [st["expired_sessions"] for st in stayed]   # the array's own doing
        time.sleep(6)
        out["active_sessions"] = [sim.stats(by_id[s]["name"])["active_sessions"] for s in ids]
        wait(lambda: all(client.collection_stats(s)["windows_pending"] == 0 for s in ids), 60, "backfill")
        out["after_node_loss"] = {s: continuity(client, s) for s in ids}
        out["windows_lost_node"] = sum(client.collection_stats(s)["windows_lost"] for s in ids)

        # whole-cluster restart on the same registry
        ray.shutdown()
        cluster.shutdown()
        down_at = time.monotonic()
        for a in arrays:
            sim.reset_stats(a["name"])
        time.sleep(4)
        cluster, _ = new_cluster()
        ray.init(address=cluster.address, namespace="mn", log_to_driver=False)
        client = start(config=cfg)
        wait(lambda: all(client.storage_state(s)["state"] == "ready" for s in ids), 90, "storages back")
        out["cluster_restart_s"] = time.monotonic() - down_at
        out["logins_after_restart"] = [sim.stats(by_id[s]["name"])["logins"] for s in ids]
        time.sleep(6)
        wait(lambda: all(client.collection_stats(s).get("windows_pending", 1) == 0 and
                         client.collection_stats(s).get("windows_collected", 0) >= 2 for s in ids), 90, "resume")
        out["after_cluster_restart"] = {s: continuity(client, s) for s in ids}
        out["windows_lost_total"] = sum(client.collection_stats(s)["windows_lost"] for s in ids)
        for s in ids:
            client.remove_storage(None, s)
        out["active_sessions_end"] = [sim.stats(by_id[s]["name"])["active_sessions"] for s in ids]
    except BaseException:
        print("PARTIAL " + json.dumps(out), flush=True)    # what was seen before it failed
        raise
    finally:
        ray.shutdown()
        cluster.shutdown()
        sim.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
