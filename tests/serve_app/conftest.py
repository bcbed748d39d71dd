"""A real Serve HTTP app (one per test session) over a manager in its own namespace."""

import pytest
import requests

from serve_app import deploy, shutdown

from ..helpers import Manager, free_port, make_config, wait_for


class Api:
    def __init__(self, manager: Manager, url: str) -> None:
        self.manager, self.url, self.http = manager, url, requests.Session()

    def __call__(self, method: str, path: str, **kw):
        return self.http.request(method, self.url + path, timeout=120, **kw)


@pytest.fixture(scope="session")
def api(ray_cluster, tmp_path_factory):
    cfg = make_config(tmp_path_factory.mktemp("http"), scheduler_enabled=True, perf_overlap_s=2)
    manager = Manager(cfg, ray_cluster)
    port = free_port()
    url = deploy(cfg, port=port, api_token="")
    wait_for(lambda: _up(url), 60, what="serve")
    yield Api(manager, url)
    shutdown(cfg.namespace)
    manager.teardown()


def _up(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False
