"""Collection reports: a tick never waits for the supervisor, the newest state wins, and every
lost window is recorded and alerted once (``rayactors/collection_report.py``, the registry)."""
import sqlite3
import threading
import time

from drivers.access_info import AccessInfo
from rayactors.collection_report import CollectionReporter
from rayactors.crypto import SecretBox, load_key
from rayactors.registry import Registry

from ..helpers import wait_for


class HeldSupervisor:
    """``send`` for the reporter: records each report, held until released, or failing."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = False

    def __call__(self, last_end, pending, lost) -> None:
        self.sent.append((last_end, list(pending), list(lost)))
        self.entered.set()
        if not self.release.wait(10):
            raise TimeoutError("the test never released the report")
        if self.fail:
            raise ConnectionError("supervisor restarting")


def test_a_held_report_never_holds_the_tick_and_the_newest_state_goes_next():
    sup, stop = HeldSupervisor(), threading.Event()
    rep = CollectionReporter(sup, stop, backoff_base_s=0.01, backoff_cap_s=0.01)
    try:
        rep.offer(2000, [], [])
        assert sup.entered.wait(5)                       # the first report is held at the supervisor
        t0 = time.monotonic()
        for end in (4000, 6000, 8000):                   # three more ticks while it is held
            rep.offer(end, [(end - 4000, end - 2000, "backlog")], [])
        assert time.monotonic() - t0 < 0.5               # none of them waited for it
        assert len(sup.sent) == 1
        sup.release.set()
        assert rep.wait_idle(5)
        assert [s[0] for s in sup.sent] == [2000, 8000]  # the two in between were superseded
        assert sup.sent[1][1] == [(4000, 6000, "backlog")]
    finally:
        stop.set()
        sup.release.set()


def test_lost_windows_stay_until_a_report_carrying_them_is_acknowledged():
    sup, stop = HeldSupervisor(), threading.Event()
    rep = CollectionReporter(sup, stop, backoff_base_s=0.01, backoff_cap_s=0.01)
    try:
        sup.fail = True
        rep.offer(6000, [], [(0, 2000, "lost")])
        assert sup.entered.wait(5)
        rep.offer(8000, [], [(2000, 4000, "lost")])      # lost while the first report is in flight
        sup.release.set()                                # ... and that report fails
        wait_for(lambda: rep.failures >= 1 and len(sup.sent) >= 2, 5, what="a second try")
        assert sup.sent[1] == (8000, [], [(0, 2000, "lost"), (2000, 4000, "lost")])
        sup.fail = False
        assert rep.wait_idle(5) and rep.unsent() == (False, 0)
        assert sup.sent[-1][2] == [(0, 2000, "lost"), (2000, 4000, "lost")]
        sup.release.clear()
        sup.entered.clear()
        rep.offer(10000, [], [])
        assert sup.entered.wait(5)
        rep.offer(12000, [], [(4000, 6000, "lost")])     # offered while an acknowledged report runs
        sup.release.set()
        assert rep.wait_idle(5)
        assert sup.sent[-1] == (12000, [], [(4000, 6000, "lost")])   # kept, not taken as acknowledged
    finally:
        stop.set()
        sup.release.set()


def _registry(tmp_path) -> Registry:
    reg = Registry(str(tmp_path / "r.sqlite"), SecretBox(load_key(str(tmp_path / "key"))))
    access = AccessInfo.parse({"vendor": "simulator", "model": "rest",
                               "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}})
    reg.add("s1", access, {"serial_number": "X"})
    return reg


def test_the_registry_counts_a_lost_window_once_and_keeps_the_newest_state(tmp_path):
    reg = _registry(tmp_path)
    w1, w2 = (0, 2000, "lost"), (2000, 4000, "lost")
    assert reg.record_collection("s1", 6000, [(4000, 6000, "x")], [w1]) == [w1]
    assert reg.record_collection("s1", 8000, [], [w1, w2]) == [w2]          # w1 again: a retried report
    state = reg.collection_state("s1")
    assert (state["windows_lost"], state["last_end"], state["pending"]) == (2, 8000, [])
    assert reg.record_collection("s1", 6000, [(4000, 6000, "x")], [w1]) == []   # a late report
    state = reg.collection_state("s1")
    assert (state["windows_lost"], state["last_end"], state["pending"]) == (2, 8000, [])
    reg.close()


def test_a_registry_from_before_lost_through_is_migrated(tmp_path):
    reg = _registry(tmp_path)
    reg.record_collection("s1", 4000, [], [(0, 2000, "lost")])
    reg.close()
    db = sqlite3.connect(str(tmp_path / "r.sqlite"))             # the table as older releases wrote it
    db.executescript("ALTER TABLE collection DROP COLUMN lost_through;")
    db.close()
    reg = Registry(str(tmp_path / "r.sqlite"), SecretBox(load_key(str(tmp_path / "key"))))
    assert reg.collection_state("s1")["windows_lost"] == 1
    assert reg.record_collection("s1", 6000, [], [(2000, 4000, "lost")]) == [(2000, 4000, "lost")]
    assert reg.collection_state("s1")["windows_lost"] == 2
    reg.close()


def test_an_epoch_committed_while_an_owners_report_is_written_waits_for_it(tmp_path):
    """The supervisor checks a report's epoch, then writes it (``Supervisor._as_owner``): a newer
    epoch committed by another thread in between would let a stale owner's report overwrite
    the new owner's sessions or state. Forced here: the commit is started once the report's
    check is done, and waits until its writes are over."""
    reg = _registry(tmp_path)
    checked, committed = threading.Event(), threading.Event()

    def commit() -> None:
        checked.wait(5)
        reg.raise_epoch("s1", 2)
        committed.set()
    other = threading.Thread(target=commit)
    other.start()
    with reg.owner_writes("s1") as epoch:
        assert epoch == 1
        checked.set()
        assert not committed.wait(0.5)                 # the commit waits for the report's writes
        reg.set_sessions("s1", ["handle-of-epoch-1"])
    assert committed.wait(5)
    other.join(5)
    with reg.owner_writes("s1") as epoch:               # a report of epoch 1 read now is stale
        assert epoch == 2
    assert reg.sessions("s1") == ["handle-of-epoch-1"]
    reg.close()
