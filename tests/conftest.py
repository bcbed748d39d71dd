"""Shared fixtures: one simulator process and (in tests/rayactors) one Ray cluster per session."""
from __future__ import annotations

import os

import pytest

import rayactors  # noqa: F401  (sets RAY_AUTH_MODE before ray is imported)
import ray

from drivers.simulator.control import SimulatorProcess, with_naviseccli
from rayactors.runtime import start_local_ray

from .helpers import Manager, free_port, make_config


@pytest.fixture(scope="session")
def simulator():
    sim = SimulatorProcess(arrays=0)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def ray_cluster():
    """One per pytest process; ``make test``'s two lanes may each run one (tests/run_split.py),
    so each cluster's dashboard (for Ray's state API) takes a port that is free, not 8265.
    Started as ``rayactors.start`` starts a local cluster (loopback only, the node's glibc
    settings): without ``loopback_only`` Ray rewrites 127.0.0.1 to the machine's address and its
    GCS, raylet and agents listen on that and on 0.0.0.0. The node has ``naviseccli`` (the
    simulator's stand-in) on its PATH, as a host running Delfin's VNX block driver has the real one."""
    os.environ["PATH"] = with_naviseccli(os.environ.get("PATH"))
    start_local_ray(address="local", include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=free_port(),
                    num_cpus=4, namespace="delfin-test-root", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def manager_factory(ray_cluster, tmp_path):
    made = []

    def make(**overrides) -> Manager:
        m = Manager(make_config(tmp_path / f"m{len(made)}", **overrides), ray_cluster)
        made.append(m)
        return m
    yield make
    for m in made:
        m.teardown()


@pytest.fixture
def manager(manager_factory) -> Manager:
    return manager_factory()


@pytest.fixture(scope="module")
def module_manager(ray_cluster, tmp_path_factory):
    """One supervisor for a whole module, for a module whose tests each register storages of
    their own and look only at those: a supervisor's start (two new Ray worker processes) is
    about 2 s of each test. A module opts in with ``manager = pytest.fixture(helpers.on_module_manager)``;
    a test that changes nothing may take ``module_manager`` itself."""
    m = Manager(make_config(tmp_path_factory.mktemp("module")), ray_cluster)
    yield m
    m.teardown()


def pytest_itemcollected(item):
    """Mark ``own_process`` every test that does not use the session's shared Ray cluster:
    plain Python, and the tests that start clusters of their own. ``make test`` runs them in a
    second pytest process beside the shared-cluster ones (tests/run_split.py)."""
    if "ray_cluster" not in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.own_process)
