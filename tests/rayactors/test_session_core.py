"""The session core without Ray: every interleaving forced with events, counted at the array.

One test per defect of the session-core issue (a-f), plus the gate and the rules around them.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from drivers.errors import (InvalidIpOrPort, InvalidUsernameOrPassword, StorageBackendException,
                            StorageNotFound)
from rayactors.call_gate import CallGate
from rayactors.session_core import SessionCore
from rayactors.session_state import SessionState
from rayactors.state_reporter import StateReporter

from .scripted import ConcurrentScriptedDriver, ScriptedArray, ScriptedDriver, access

T = 10   # generous bound for anything that should happen at once


@pytest.fixture
def array():
    name = uuid.uuid4().hex
    arr = ScriptedDriver.arrays[name] = ScriptedArray()
    arr.name = name
    yield arr
    ScriptedDriver.arrays.pop(name, None)


def make_core(driver_cls=ScriptedDriver, events=None, **kw) -> SessionCore:
    def build(a):
        return driver_cls(**{**a.reveal(), "storage_id": "s1"})
    kw = {"close_timeout_s": T, "backoff_base_s": 0.05, "backoff_cap_s": 0.1, "call_timeout_s": T, **kw}
    on_state = (lambda new, old, err: events.append((old.value, new.value))) if events is not None else None
    return SessionCore("s1", build, on_state=on_state, **kw)


def run(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Start ``fn`` in a thread; its result or exception lands in the returned dict."""
    out: dict = {}

    def target():
        try:
            out["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            out["error"] = exc
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def join(t: threading.Thread) -> None:
    t.join(T)
    assert not t.is_alive(), "thread did not finish"


def hold_one_call(core: SessionCore, array, point: str = "list_volumes") -> tuple[threading.Thread, dict]:
    """Connect ``core``, then start one call that the array holds at ``point`` until released."""
    core.connect(access(array.name), origin="register")
    entered = array.hold(point)
    call = run(core.call, point)
    assert entered.wait(T)
    return call


# -- a. a swapped-out driver never logs in again ---------------------------------------------
def test_a_call_in_flight_on_swapped_driver_leaves_no_session(array):
    core = make_core()
    call, call_out = hold_one_call(core, array)
    old_token = core._slot.driver.token
    array.expire()                              # the in-flight call will find its token expired
    swap, swap_out = run(core.connect, access(array.name))
    # the swap does not wait for a bulk call in flight (a sync, a collection: many round trips),
    # and does not cut it short: the old session stays until that call is done
    join(swap)
    assert "error" not in swap_out and array.logins == 2 and array.logouts == 0
    assert core.snapshot()["sessions"] == 2
    array.release("list_volumes")
    join(call)
    assert "error" not in call_out
    wait_until(lambda: array.logouts == 1)
    # the call re-logged in on its own driver before it was retired; the retire logged that out
    assert array.active == 1 and array.logins == 3 and array.logouts == 1
    assert old_token not in array._tokens and core.snapshot()["sessions"] == 1
    # the old driver is closed and never called again: nothing reaches the array on its tokens
    assert all(v == 0 for v in array.after_logout.values())
    core.call("list_volumes")
    assert array.logins == 3 and array.active == 1


def test_a_swap_waits_for_a_control_call_in_flight_then_logs_out(array):
    """A control call is one round trip: the update waits for it, and has logged the old session
    out when it returns (the array sees one session)."""
    core = make_core()
    call, call_out = hold_one_call(core, array, "get_capabilities")
    swap, swap_out = run(core.connect, access(array.name))
    wait_until(lambda: array.logins == 2)
    time.sleep(0.3)
    assert swap.is_alive() and array.logouts == 0
    array.release("get_capabilities")
    join(swap)
    assert "error" not in swap_out and array.active == 1 and array.logouts == 1
    join(call)
    assert "error" not in call_out


def test_a_second_update_during_a_hand_over_waits_for_it_two_sessions_at_most(array):
    core = make_core()
    call, call_out = hold_one_call(core, array)
    core.connect(access(array.name))            # returns; the first session finishes the call
    second, second_out = run(core.connect, access(array.name))
    time.sleep(0.3)
    assert second.is_alive() and array.logins == 2 and array.active == 2
    array.release("list_volumes")
    join(second)
    join(call)
    assert "error" not in second_out and "error" not in call_out
    assert array.peak_sessions == 2 and array.logins == 3 and array.active == 1


def test_close_during_a_hand_over_logs_out_the_old_session_too(array):
    """Removing a storage while its old session still finishes a bulk call: both sessions are
    logged out within the close timeout (the actor is killed right after)."""
    core = make_core(close_timeout_s=0.5)
    call, _ = hold_one_call(core, array)
    core.connect(access(array.name))
    assert array.active == 2
    core.close()
    assert array.active == 0 and array.logouts == 2 and core.snapshot()["sessions"] == 0
    array.release("list_volumes")
    join(call)


def test_a_calls_queued_during_a_swap_run_on_the_new_session(array):
    core = make_core()
    first, _ = hold_one_call(core, array)
    queued = [run(core.call, "list_volumes") for _ in range(5)]
    time.sleep(0.2)
    old = core._slot.driver
    swap, swap_out = run(core.connect, access(array.name))
    time.sleep(0.2)
    array.release("list_volumes")
    for t, out in queued:
        join(t)
        assert "error" not in out
    join(first)
    join(swap)
    new = core._slot.driver
    wait_until(lambda: old.closed)             # the first call was bulk: logged out right after it
    assert old is not new and old.closed
    assert array._tokens == {new.token: 5 + 1}    # get_storage of the swap + the 5 queued calls
    assert array.active == 1 and array.peak_sessions == 2


# -- b. a connect that finishes after close is refused and its session logged out -------------
def test_b_connect_finishing_after_close_is_refused(array):
    events = []
    core = make_core(events=events)
    core.connect(access(array.name), origin="register")
    entered = array.hold("login")
    t, out = run(core.connect, access(array.name))
    assert entered.wait(T)
    core.close()
    assert array.active == 0
    array.release("login")
    join(t)
    assert isinstance(out["error"], StorageNotFound)
    assert array.logins == 2 and array.active == 0          # its fresh session was logged out
    assert core.state == SessionState.CLOSED and events[-1] == ("ready", "closed")
    with pytest.raises(StorageNotFound):
        core.call("list_volumes")
    with pytest.raises(StorageNotFound):
        core.connect(access(array.name))


def test_b_connect_finishing_after_fencing_is_refused(array):
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    entered = array.hold("login")
    t, out = run(core.connect, access(array.name))      # an update without an epoch of its own
    assert entered.wait(T)
    assert core.fence(2)                                 # another owner committed epoch 2
    array.release("login")
    join(t)
    assert isinstance(out["error"], StorageNotFound)
    assert array.active == 0 and core.state == SessionState.CLOSED


def test_b_an_abandoned_connect_is_refused_when_its_login_lands(array):
    """The supervisor stopped waiting for an update and reported it failed: the login it was
    waiting for must not replace the session afterwards."""
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    entered = array.hold("login")
    t, out = run(core.connect, access(array.name), None, 2, "update", "attempt-1")
    assert entered.wait(T)
    assert core.abandon("attempt-1") is None             # not installed: it stays failed
    array.release("login")
    join(t)
    assert isinstance(out["error"], StorageBackendException)
    assert (array.logins, array.logouts, array.active) == (2, 1, 1)      # its session logged out
    assert core.snapshot()["epoch"] == 1 and core.state == SessionState.READY


def test_b_a_connect_abandoned_once_installed_counts_as_done(array):
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    storage = core.connect(access(array.name), None, 2, "update", "attempt-2")
    assert core.abandon("attempt-2") == storage          # the supervisor commits it after all
    assert array.active == 1 and core.snapshot()["epoch"] == 2


def test_b_an_abandoned_update_still_counts_after_a_re_login_with_its_access(array):
    """The update installed its session, then the prober (or a restart) logged in again with the
    same access info before the supervisor's abandon arrived: the actor runs on the update's
    access info, so the update counts as done, not failed (the registry would not hold it)."""
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    updated = access(array.name, "pw-2")
    array.password = "pw-2"
    storage = core.connect(updated, None, 2, "update", "attempt-5")
    core.connect(updated, storage["serial_number"], None, "probe")     # a re-login of its own
    assert array.logins == 3 and array.active == 1
    assert core.abandon("attempt-5") == storage
    core.connect(access(array.name, "pw-2"), None, 3, "update", "attempt-6")
    assert core.abandon("attempt-5") is None                 # replaced by a later update: not it


def test_b_a_connect_abandoned_before_it_starts_never_logs_in(array):
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    assert core.abandon("attempt-3") is None
    with pytest.raises(StorageBackendException):
        core.connect(access(array.name), None, 2, "update", "attempt-3")
    assert array.logins == 1 and core.snapshot()["epoch"] == 1


# -- c. the epoch of a connect in flight is ours: the rightful owner is never fenced ------------
def test_c_pending_connect_epoch_protects_the_owner(array):
    core = make_core()
    core.connect(access(array.name), epoch=1, origin="register")
    entered = array.hold("login")
    t, out = run(core.connect, access(array.name), None, 2)
    assert entered.wait(T)
    assert core.fence(2) is False                 # committed early by the supervisor: still ours
    assert core.state == SessionState.READY
    array.release("login")
    join(t)
    assert "error" not in out and core.epoch == 2
    assert core.fence(2) is False and core.fence(3) is True


# -- d. in auth_failed, a failed update never leads to a login with rejected credentials --------
def test_d_failed_update_keeps_auth_failed_and_never_logs_in(array):
    events = []
    core = make_core(events=events)
    core.connect(access(array.name), origin="register")
    array.password = "rotated"
    array.expire()
    with pytest.raises(InvalidUsernameOrPassword):
        core.call("list_volumes")
    assert core.state == SessionState.AUTH_FAILED and array.failed_logins == 1
    with pytest.raises(InvalidIpOrPort):
        core.connect(access(array.name, password="rotated", port=9999))    # wrong port
    assert core.state == SessionState.AUTH_FAILED
    time.sleep(0.5)                                     # many backoff periods of the prober
    assert (array.logins, array.failed_logins) == (1, 1)
    with pytest.raises(InvalidUsernameOrPassword):      # anything automatic is refused up front
        core.connect(access(array.name), origin="recover")
    assert array.failed_logins == 1
    core.connect(access(array.name, password="rotated"))
    assert core.state == SessionState.READY and array.active == 1
    assert ("ready", "auth_failed") in events and events[-1] == ("auth_failed", "ready")


def test_d_update_failing_while_unreachable_keeps_probing_with_good_credentials(array):
    core = make_core()
    core.connect(access(array.name), origin="register")
    array.down = True
    with pytest.raises(InvalidIpOrPort):
        core.call("list_volumes")
    assert core.state == SessionState.UNREACHABLE
    with pytest.raises(InvalidIpOrPort):
        core.connect(access(array.name, password="typo"))
    assert core.state == SessionState.UNREACHABLE and array.failed_logins == 0
    array.down = False
    deadline = time.monotonic() + T
    while core.state != SessionState.READY and time.monotonic() < deadline:
        time.sleep(0.02)
    assert core.state == SessionState.READY and array.active == 1 and array.failed_logins == 0


# -- e. no array call under the state lock: the state answers while the array hangs -------------
@pytest.mark.parametrize("point", ["login", "get_capabilities"])
def test_e_state_answers_while_the_array_hangs(array, point):
    core = make_core()
    if point != "login":
        core.connect(access(array.name), origin="register")
    entered = array.hold(point)
    work = (lambda: core.connect(access(array.name))) if point == "login" else \
        (lambda: core.call("get_capabilities"))
    t, _ = run(work)
    assert entered.wait(T)
    closing, _ = run(core.close)           # close waits for the call to drain, not for the lock
    started = time.perf_counter()
    snap = core.snapshot()
    assert time.perf_counter() - started < 0.1
    assert snap["state"] in ("connecting", "ready", "closed")
    array.release(point)
    join(t)
    join(closing)
    assert array.active == 0


# -- f. reports reach the supervisor even if it is away when they are made ----------------------
def test_f_reports_retried_until_acknowledged_in_order():
    delivered, failures = [], {"left": 3}
    stop = threading.Event()

    def send(method, args):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("supervisor restarting")
        delivered.append((method, args))
    reporter = StateReporter(send, stop, backoff_base_s=0.01, backoff_cap_s=0.05)
    reporter.report("on_state_change", "s1", "auth_failed", "ready", None)
    reporter.report("on_state_change", "s1", "ready", "auth_failed", None)
    assert reporter.wait_idle(T)
    stop.set()
    assert [a[1] for _, a in delivered] == ["auth_failed", "ready"]
    assert reporter.attempts == 5 and reporter.delivered == 2


# -- the rest of the contract -----------------------------------------------------------------
def test_one_call_at_a_time_on_a_session_counted_at_the_array(array):
    core = make_core()
    core.connect(access(array.name), origin="register")
    threads = [run(core.call, "list_volumes") for _ in range(12)]
    for t, out in threads:
        join(t)
        assert "error" not in out
    assert array.peak_inflight == 1


def test_declared_concurrency_is_used_and_capped(array):
    core = make_core(ConcurrentScriptedDriver, bulk_inflight=8)   # more than the driver allows
    core.connect(access(array.name), origin="register")
    entered = array.hold("list_volumes")
    threads = [run(core.call, "list_volumes") for _ in range(8)]
    assert entered.wait(T)
    time.sleep(0.3)
    assert array.inflight == 3                         # bulk may take 3 of the 4 places
    control, _ = run(core.call, "get_storage")
    time.sleep(0.2)
    assert not control.is_alive()                      # the fourth place is the control lane's
    array.release("list_volumes")
    for t, _ in threads:
        join(t)
    assert array.peak_inflight == 4


def test_control_goes_ahead_of_queued_bulk():
    gate = CallGate(1)
    order = []
    assert gate.acquire("bulk")
    waiting = []
    for i in range(3):
        t, _ = run(lambda i=i: (gate.acquire("bulk"), order.append(f"bulk{i}"), gate.release("bulk")))
        waiting.append(t)
        time.sleep(0.05)
    ctl, _ = run(lambda: (gate.acquire("control"), order.append("control"), gate.release("control")))
    time.sleep(0.05)
    gate.release("bulk")
    for t in [*waiting, ctl]:
        join(t)
    assert order == ["control", "bulk0", "bulk1", "bulk2"]


def test_identical_connects_share_one_login(array):
    core = make_core()
    entered = array.hold("login")
    threads = [run(core.connect, access(array.name), None, None, "recover") for _ in range(4)]
    assert entered.wait(T)
    time.sleep(0.2)
    array.release("login")
    for t, out in threads:
        join(t)
        assert out["result"]["serial_number"] == "SN-1"
    assert array.logins == 1 and array.active == 1


def test_superseded_connect_is_refused_and_logged_out(array):
    core = make_core()
    core.connect(access(array.name), origin="register")
    # an older connect (the prober, old password) is still checking the serial ...
    entered = array.hold("get_storage", only="pw-1")
    older, older_out = run(core.connect, access(array.name), "SN-1", None, "probe")
    assert entered.wait(T)
    # ... when new access info is installed
    array.password = "pw-2"
    core.connect(access(array.name, password="pw-2"))
    array.release("get_storage")
    join(older)
    assert isinstance(older_out["error"], StorageBackendException)
    assert core._slot.driver._password == "pw-2"
    assert array.logins == 3 and array.active == 1 and array.peak_sessions == 3


def parked_core(array) -> SessionCore:
    """A core whose array went down under a call: its session parked, the prober running."""
    core = make_core()
    core.connect(access(array.name), origin="register")
    array.down = True
    with pytest.raises(InvalidIpOrPort):
        core.call("list_volumes")
    return core


def wait_until(cond) -> None:
    deadline = time.monotonic() + T
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_an_outage_keeps_the_session_no_login_no_orphan(array):
    """The array still holds the session after it comes back: the prober uses it again instead
    of logging in afresh (which would leave the old one open at the array until it expires)."""
    core = parked_core(array)
    assert core.state == SessionState.UNREACHABLE and core.snapshot()["sessions"] == 1
    time.sleep(0.2)                                     # several probes while down
    assert core.snapshot()["probes"] >= 2 and array.logins == 1
    array.down = False
    wait_until(lambda: core.state == SessionState.READY)
    assert core.state == SessionState.READY and core.snapshot()["revivals"] == 1
    core.call("list_volumes")
    assert (array.logins, array.active, array.peak_sessions) == (1, 1, 1)
    core.close()
    assert array.active == 0


def test_an_array_answering_errors_keeps_the_parked_session(array):
    """Back from an outage but busy (503): a fresh login would meet the same answer and leave
    the parked session open at the array, so the prober keeps trying the parked one."""
    core = parked_core(array)
    array.down, array.failing = False, True
    wait_until(lambda: core.snapshot()["probes"] >= 3)
    assert core.state == SessionState.UNREACHABLE and array.logins == 1
    array.failing = False
    wait_until(lambda: core.state == SessionState.READY)
    assert (array.logins, array.active, array.peak_sessions) == (1, 1, 1)


def test_an_expired_parked_session_is_replaced_by_one_login(array):
    core = parked_core(array)
    array.expire()                                      # the array rebooted: sessions gone
    array.down = False
    wait_until(lambda: core.state == SessionState.READY)
    core.call("list_volumes")
    assert (array.logins, array.active, array.failed_logins) == (2, 1, 0)


def test_update_while_parked_logs_the_parked_session_out(array):
    core = parked_core(array)
    array.hold("get_storage", only="pw-1")              # the prober's try of the parked session waits
    array.down = False
    assert array.entered["get_storage"].wait(T)
    array.password = "pw-2"
    core.connect(access(array.name, password="pw-2"))   # new access info wins meanwhile
    array.release("get_storage")
    wait_until(lambda: array.active == 1)
    assert core.state == SessionState.READY and core._slot.driver._password == "pw-2"
    assert array.active == 1 and array.logouts == 1


def test_prober_gives_up_on_rejected_credentials(array):
    core = parked_core(array)
    array.password = "rotated"
    array.expire()                          # the rotation also ended the parked session
    array.down = False
    wait_until(lambda: core.state == SessionState.AUTH_FAILED)
    assert core.state == SessionState.AUTH_FAILED
    time.sleep(0.5)
    assert array.failed_logins == 1 and array.active == 0


def test_calls_queued_behind_a_rejected_one_never_reach_the_array(array):
    """The call that meets the rejection drops the session before the next queued call can take
    the gate: the array sees exactly one failed login, however many calls were waiting."""
    core = make_core()
    first, first_out = hold_one_call(core, array)
    queued = [run(core.call, "list_volumes") for _ in range(6)]
    time.sleep(0.2)
    array.password = "rotated"
    array.expire()
    array.release("list_volumes")
    join(first)
    for t, out in queued:
        join(t)
        assert isinstance(out["error"], InvalidUsernameOrPassword)
    assert isinstance(first_out["error"], InvalidUsernameOrPassword)
    assert array.failed_logins == 1 and core.state == SessionState.AUTH_FAILED


# -- a storage actor killed with -9 leaves no session behind ----------------------------------
def handoff_core(published: list) -> SessionCore:
    """A core as the actor builds it: it publishes its open sessions and can end a dead one's."""
    return make_core(release=ScriptedDriver.release_session, on_sessions=published.append)


def killed(array, published: list) -> list:
    """A core that logged in and was then killed (never closed): what it left published."""
    handoff_core(published).connect(access(array.name), origin="register")
    assert published[-1] == [next(iter(array._tokens))]
    return published[-1]


def test_restart_ends_the_killed_sessions_before_logging_in(array):
    left = killed(array, [])
    published: list = []
    core = handoff_core(published)
    core.adopt_orphans(left)
    entered = array.hold("login")
    t, out = run(core.connect, access(array.name), None, None, "recover")
    assert entered.wait(T)
    assert array.active == 0 and array.logouts == 1       # the orphan ended before the new login
    array.release("login")
    join(t)
    assert "error" not in out
    assert (array.logins, array.active, array.peak_sessions) == (2, 1, 1)
    assert published[-1] == [core._slot.driver.token] and core.snapshot()["released"] == 1


def test_a_re_login_inside_a_call_publishes_the_new_token(array):
    """The driver logs in again on its own when its token expires: the handle kept for a restart
    must follow, or a kill after it leaves the new session open."""
    published: list = []
    core = handoff_core(published)
    core.connect(access(array.name), origin="register")
    first = published[-1]
    array.expire()
    core.call("list_volumes")                              # re-login inside the driver
    assert published[-1] != first and published[-1] == [core._slot.driver.token]
    successor = handoff_core([])                           # the first core is killed here
    successor.adopt_orphans(published[-1])
    successor.connect(access(array.name), origin="recover")
    assert array.active == 1 and array.logins == 3


def test_a_kill_during_a_swap_leaves_neither_session(array):
    """Make before break: while the old session drains, both are open and both are published."""
    published: list = []
    core = handoff_core(published)
    call, _ = hold_one_call(core, array)
    swap, _ = run(core.connect, access(array.name))
    wait_until(lambda: array.logins == 2 and len(published[-1]) == 2)
    both = published[-1]
    assert sorted(both) == sorted(array._tokens)            # killed here: two sessions open
    successor = handoff_core([])
    successor.adopt_orphans(both)
    successor.connect(access(array.name), origin="recover")
    assert array.active == 1 and array.logouts == 2
    array.release("list_volumes")
    join(call)
    join(swap)


def test_an_orphan_the_array_cannot_take_now_is_ended_later(array):
    left = killed(array, [])
    published: list = []
    core = handoff_core(published)
    core.adopt_orphans(left)
    array.down = True
    with pytest.raises(InvalidIpOrPort):
        core.connect(access(array.name), origin="recover")
    assert core.snapshot()["orphans"] == 1 and published[-1] == left    # still kept for a restart
    array.down = False
    wait_until(lambda: core.state == SessionState.READY)     # the prober's login ends it first
    assert core.state == SessionState.READY
    assert (array.active, array.logouts, core.snapshot()["orphans"]) == (1, 1, 0)
    assert published[-1] == [core._slot.driver.token]


def test_a_driver_without_handles_publishes_nothing(array):
    class NoHandle(ScriptedDriver):
        def session_handle(self):
            return None
    published: list = []
    core = make_core(NoHandle, on_sessions=published.append)
    core.connect(access(array.name), origin="register")
    core.call("list_volumes")
    core.close()
    assert all(p == [] for p in published)


def test_a_restart_during_an_outage_logs_in_once_the_array_is_back(array):
    """A restarted actor has no session yet: its failed first login must still leave the
    prober the access info to log in with (it used to stay unreachable for good)."""
    core = make_core()
    array.down = True
    with pytest.raises(InvalidIpOrPort):
        core.connect(access(array.name), origin="recover")
    array.down = False
    wait_until(lambda: core.state == SessionState.READY)
    assert core.state == SessionState.READY and (array.logins, array.active) == (1, 1)


def test_a_session_reported_during_a_connect_claims_the_epoch_in_flight(array):
    """An update's new login is reported while its connect still checks the storage: the report
    claims the proposed epoch (as ``fence`` counts it), not the one before, which a supervisor
    that commits the new epoch before reading the report would drop as a stale twin's."""
    published: list = []
    core = handoff_core(published)
    core.connect(access(array.name), origin="register", epoch=1)
    assert (core.epoch, core.claimed_epoch) == (1, 1)
    entered = array.hold("get_storage")
    t, out = run(core.connect, access(array.name), None, 2, "update")
    assert entered.wait(T)                           # logged in, its storage check held at the array
    assert len(published[-1]) == 2 and array.active == 2     # the new session is out, both open
    assert (core.epoch, core.claimed_epoch) == (1, 2)
    array.release("get_storage")
    join(t)
    assert "error" not in out and (core.epoch, core.claimed_epoch) == (2, 2)
    assert array.logins == 2 and array.active == 1 and len(published[-1]) == 1
