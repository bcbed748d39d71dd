"""One supervisor per registry (rayactors/registry_lock.py): a second supervisor on the same
data dir (here another namespace of the same cluster; as well a second cluster started on it)
would restore an actor, and so a session, for every storage the registry holds. It is refused,
saying who holds the registry, until the first one's process has ended."""
from __future__ import annotations

import logging
import uuid

import pytest

from drivers.errors import InvalidInput
from drivers.simulator.control import rest_access
from rayactors.runtime import ensure_supervisor, stop_supervisor, supervisor_running

from ..helpers import Manager, wait_for


def test_a_second_supervisor_on_the_same_registry_is_refused_until_the_first_ends(manager_factory, simulator,
                                                                                   ray_cluster, tmp_path, caplog):
    first = manager_factory()
    arr = simulator.add_array(sizes={"volumes": 3})
    sid = first.client.discover_storage(None, rest_access(arr))["id"]
    other = first.cfg.model_copy(update={"namespace": f"t-{uuid.uuid4().hex[:8]}"})   # same data dir
    with pytest.raises(InvalidInput, match=f"registry {first.cfg.resolved().registry_path} is in use by another "
                                           f"supervisor .*\"namespace\": \"{first.cfg.namespace}\""):
        ensure_supervisor(other.model_copy(update={"close_timeout_s": 1}))     # its wait for a holder ending
    assert not supervisor_running(other)
    # joining the running supervisor with other paths: it keeps its own, so `up` (strict: its
    # HTTP app would read metrics where none are written) is refused and a library caller warned
    elsewhere = first.cfg.model_copy(update={"data_dir": str(tmp_path / "elsewhere"), "registry_path": None,
                                             "key_file": None, "metrics_root": None}).resolved()
    with pytest.raises(InvalidInput, match=f"keeps its registry at {first.cfg.registry_path} and its metrics at "
                                           f"{first.cfg.metrics_root}, not at {elsewhere.registry_path}"):
        ensure_supervisor(elsewhere, strict=True)
    with caplog.at_level(logging.WARNING, logger="delfin_dm.runtime"):
        assert ensure_supervisor(elsewhere) is not None
    assert any("keeps its registry at" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "elsewhere").exists()                            # nothing written there
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (1, 1)            # no second session
    assert first.client.list_volumes(None, sid)                              # the first carries on

    stop_supervisor(first.cfg)                          # its storages log out; its lock goes with it
    second = Manager(other, ray_cluster)                # the registry's storages come back, once
    try:
        assert [s["id"] for s in second.client.list_storages()] == [sid]
        wait_for(lambda: second.client.storage_state(sid)["state"] == "ready", 60, what="restored")
        stats = simulator.stats(arr["name"])
        assert (stats["logins"], stats["active_sessions"]) == (2, 1)
    finally:
        second.teardown()
