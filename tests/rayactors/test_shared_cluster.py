"""The tests' own Ray cluster (tests/conftest.py) keeps to loopback, as the service does."""
import psutil
import ray

from ..helpers import is_loopback, listening


def test_shared_cluster_listens_on_loopback_only(ray_cluster):
    assert ray_cluster.startswith("127.0.0.1:"), ray_cluster
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    found = listening(psutil.Process().children(recursive=True))   # the GCS, raylet, agents, workers
    names = {n for n, _ in found}
    assert {"gcs_server", "raylet"} <= names, names
    # Serve's replica gRPC port is on every interface behind Ray's token, with no setting to
    # change it (README, "Running on several nodes"); tests/test_make_run.py checks that token
    outside = [(n, a) for n, a in found if not is_loopback(a.ip) and not n.startswith("ray::ServeReplica")]
    assert outside == [], outside
