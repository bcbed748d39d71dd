"""The tests' own Ray cluster (tests/conftest.py) keeps to loopback, as the service does."""
import psutil
import ray

from ..helpers import is_loopback


def test_shared_cluster_listens_on_loopback_only(ray_cluster):
    assert ray_cluster.startswith("127.0.0.1:"), ray_cluster
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    listening = []
    for p in psutil.Process().children(recursive=True):     # the GCS, raylet, agents, workers
        try:
            listening += [(p.name(), c.laddr) for c in p.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN]
        except psutil.Error:                                  # a worker that just exited
            continue
    names = {n for n, _ in listening}
    assert {"gcs_server", "raylet"} <= names, names
    # Serve's replica gRPC port is on every interface behind Ray's token, with no setting to
    # change it (README, "Running on several nodes"); tests/test_make_run.py checks that token
    outside = [(n, a) for n, a in listening if not is_loopback(a.ip) and not n.startswith("ray::ServeReplica")]
    assert outside == [], outside
