"""The tests' own Ray cluster (tests/conftest.py) is started as the service starts a local one:
on loopback only, its processes with the node's glibc settings (rayactors/ray_env.py)."""
import psutil
import ray

from rayactors.ray_env import NODE_ENV

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


def test_shared_cluster_has_the_node_environment(ray_cluster):
    raylet = next(p for p in psutil.Process().children(recursive=True) if p.name() == "raylet")
    environ = b"\0" + open(f"/proc/{raylet.pid}/environ", "rb").read()
    for key, value in NODE_ENV.items():          # what every worker it starts inherits
        assert f"\0{key}={value}\0".encode() in environ, key
