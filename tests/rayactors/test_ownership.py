"""Ownership changes are pushed: the supervisor's board wakes a stale owner at once, with no
polling in between (fence_interval_s is an hour here), counted at the simulated array."""
import contextlib
import threading
import time

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from drivers.simulator.control import rest_access
from rayactors.naming import board_name, get_board, lookup
from rayactors.ownership import RETRY_S, board_class, follow
from rayactors.runtime import stop_supervisor
from rayactors.session_actor import actor_class

from ..helpers import wait_for

HOUR = 3600.0


def test_board_answers_a_change_at_once_and_holds_otherwise(ray_cluster):
    board = board_class(0.001).remote()
    try:
        assert ray.get(board.watchers.remote(), timeout=120) == 0               # started (slow when loaded)
        assert ray.get(board.watch.remote("s1", None, 30), timeout=5) == 0      # first look: at once
        pending = board.watch.remote("s1", 0, 30)
        ready, _ = ray.wait([pending], timeout=0.5)
        assert not ready and ray.get(board.watchers.remote()) == 1              # held, nothing changed
        board.changed.remote("s1")
        assert ray.get(pending, timeout=5) == 1
        t0 = time.monotonic()
        assert ray.get(board.watch.remote("s1", 1, 0.3), timeout=5) == 1        # no change: after hold_s
        assert time.monotonic() - t0 >= 0.3
        # the interleaving the order guards: a commit after the actor read the version (1) and
        # before its question reached the supervisor; its next watch answers at once
        board.changed.remote("s1")
        t0 = time.monotonic()
        assert ray.get(board.watch.remote("s1", 1, 30), timeout=5) == 2
        assert time.monotonic() - t0 < 5
        assert ray.get(board.watch.remote("other", None, 30), timeout=5) == 0   # per storage
        assert ray.get(board.watchers.remote()) == 0
    finally:
        ray.kill(board, no_restart=True)


def _twin(m, sid, arr, epoch):
    """What a healed partition can leave behind: a second actor for the same storage."""
    twin = actor_class(m.cfg).options(name=f"storage:{sid}-twin", namespace=m.cfg.namespace,
                                      lifetime="detached").remote(sid, m.cfg.model_dump())
    ray.get(twin.connect.remote(rest_access(arr), None, epoch), timeout=30)
    return twin


def _checks(actor) -> int:
    return ray.get(actor.state.remote(), timeout=10)["ownership_checks"]


def _board(m):
    return get_board(m.cfg.supervisor_name, m.cfg.namespace)


def _watchers(board) -> int:
    """Watches the board holds; 0 while it is still restarting."""
    try:
        return ray.get(board.watchers.remote(), timeout=10)
    except (ActorUnavailableError, RayActorError):
        return 0


@contextlib.contextmanager
def _owner_and_twin(manager_factory, simulator):
    """A registered storage (epoch 1, no polling) and a twin at the same epoch that made its
    first check: not stale yet."""
    m = manager_factory(fence_interval_s=HOUR)
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    twin = _twin(m, sid, arr, epoch=1)
    try:
        wait_for(lambda: _checks(twin) >= 1, 10, what="the twin's first check")
        yield m, arr, sid, twin
    finally:
        ray.kill(twin, no_restart=True)


def _update_password(m, sid, arr) -> None:
    m.client.update_access_info(None, {"storage_id": sid, "rest": {"password": arr["users"]["admin"]}})


def _twin_stopped(twin, simulator, arr, sessions_left: int) -> None:
    """Stopped and logged out. Within 30 s, against the hour the twin would otherwise wait: the
    wake-up is pushed. The stop is a few Ray calls (the board, the supervisor, the logout); on a
    starved node it once took over 10 s in CI."""
    wait_for(lambda: ray.get(twin.state.remote())["state"] == "closed", 30, what="the twin to stop")
    wait_for(lambda: simulator.stats(arr["name"])["active_sessions"] == sessions_left, 30,
             what="the twin's logout")


def test_a_commit_wakes_a_stale_twin_at_once(manager_factory, simulator):
    with _owner_and_twin(manager_factory, simulator) as (m, arr, sid, twin):
        assert simulator.stats(arr["name"])["active_sessions"] == 2
        before = _checks(twin)
        time.sleep(2)
        assert _checks(twin) == before                                  # no polling
        assert ray.get(twin.state.remote())["state"] == "ready"
        _update_password(m, sid, arr)
        assert m.client.storage_state(sid)["epoch"] == 2
        _twin_stopped(twin, simulator, arr, sessions_left=1)
        assert _checks(twin) <= before + 2
        assert m.client.storage_state(sid)["state"] == "ready"
        assert len(m.client.list_volumes(None, sid)) == 50


def test_a_removal_wakes_a_twin_and_it_logs_out(manager_factory, simulator):
    with _owner_and_twin(manager_factory, simulator) as (m, arr, sid, twin):
        m.client.remove_storage(None, sid)
        _twin_stopped(twin, simulator, arr, sessions_left=0)


def test_a_restarted_board_still_wakes_the_twin(manager_factory, simulator):
    """The board lost its counters (restart): the twin's watch fails, it checks and waits on
    the new board, and the next commit still reaches it."""
    with _owner_and_twin(manager_factory, simulator) as (m, arr, sid, twin):
        board = _board(m)
        before = _checks(twin)
        ray.kill(board, no_restart=False)
        wait_for(lambda: _checks(twin) > before, 20, what="a check after the board's restart")
        wait_for(lambda: _watchers(board) >= 1, 20, what="the twin waiting on the new board")
        _update_password(m, sid, arr)
        _twin_stopped(twin, simulator, arr, sessions_left=1)


def test_a_supervisor_restart_keeps_the_board_and_the_watches(manager_factory, simulator):
    """The board is detached beside the supervisor: a supervisor restart neither restarts it
    nor sends every storage actor to the restarted supervisor; its next commit still wakes."""
    m = manager_factory(fence_interval_s=HOUR)
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    owner = m.actor(sid)
    board_id = _board(m)._actor_id.hex()
    wait_for(lambda: _watchers(_board(m)) == 1, 10, what="the owner watching")
    before = _checks(owner)
    ray.kill(m.supervisor, no_restart=False)
    wait_for(lambda: _restarted(m.supervisor), 60, what="the supervisor's restart")
    wait_for(lambda: ray.get(m.supervisor.reconcile_report.remote()), 30, what="its reconcile")
    time.sleep(3)                                                       # > RETRY_S: a failed watch would show
    assert _checks(owner) == before                                     # the watch went on, no check
    assert _board(m)._actor_id.hex() == board_id and _watchers(_board(m)) == 1
    twin = _twin(m, sid, arr, epoch=1)                                  # after the reconcile, which kills strays
    try:
        wait_for(lambda: _checks(twin) >= 1, 10, what="the twin's first check")
        _update_password(m, sid, arr)                                   # the restarted supervisor commits
        _twin_stopped(twin, simulator, arr, sessions_left=1)
        assert m.client.storage_state(sid)["state"] == "ready"
    finally:
        ray.kill(twin, no_restart=True)


def test_stop_supervisor_stops_its_board(manager_factory):
    m = manager_factory(fence_interval_s=HOUR)
    assert _watchers(_board(m)) == 0
    stop_supervisor(m.cfg, timeout_s=0)
    for name in (m.cfg.supervisor_name, board_name(m.cfg.supervisor_name)):
        wait_for(lambda: lookup(name, m.cfg.namespace) is None, 20, what=f"{name} gone")


def _restarted(supervisor) -> bool:
    try:
        return ray.get(supervisor.ping.remote(), timeout=30)["restarted"]
    except (ActorUnavailableError, RayActorError):
        return False



def _follow_in_thread(watch, answers):
    """Run ``follow`` (interval an hour) with ``check`` answering ``answers`` in turn; returns
    the times of the checks once it stopped."""
    checks: list[float] = []

    def check():
        checks.append(time.monotonic())
        return answers[len(checks) - 1]
    stopped = threading.Event()
    loop = threading.Thread(target=follow, args=(watch, check, stopped, HOUR), daemon=True)
    loop.start()
    loop.join(8 * RETRY_S)
    stopped.set()
    assert not loop.is_alive(), f"follow still waiting after {len(checks)} checks"
    return checks


def test_a_check_the_supervisor_did_not_answer_is_asked_again_soon():
    """A wake-up whose check failed (supervisor restarting) is retried after about RETRY_S, not
    after the hold (an hour here); plain Python, the loop every storage actor runs."""
    looked = threading.Event()

    def watch(seen):
        if looked.is_set():                                  # nothing changes any more
            time.sleep(HOUR)
        looked.set()
        return 1
    checks = _follow_in_thread(watch, [None, None, True])
    assert len(checks) == 3
    gaps = [b - a for a, b in zip(checks, checks[1:])]
    assert all(0.5 * RETRY_S - 0.05 <= g <= 1.5 * RETRY_S + 0.5 for g in gaps), gaps


def test_an_unreachable_board_still_leads_to_a_check():
    def watch(seen):
        raise ConnectionError("board restarting")
    checks = _follow_in_thread(watch, [False, True])
    assert len(checks) == 2
