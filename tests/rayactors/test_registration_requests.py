"""A registration's commit and its caller's settle: exactly one of "registered" and "called
off" happens, whichever comes first (threads forced into each order with events), and neither
waits for another registration's commit."""
import threading

import pytest

from drivers.errors import StorageBackendException
from rayactors.registration_requests import RegistrationRequests


def _commit_held(requests, request_id, storage_id):
    """A thread inside ``commit`` (the registry write under way) until the returned event is set."""
    inside, release = threading.Event(), threading.Event()

    def register():
        with requests.commit(request_id) as registered:
            inside.set()
            release.wait(10)
            registered(storage_id)
    thread = threading.Thread(target=register)
    thread.start()
    assert inside.wait(5)
    return thread, release


def test_a_settle_during_its_commit_waits_for_it_and_gets_the_storage():
    requests = RegistrationRequests(keep_s=60)
    committer, release = _commit_held(requests, "r1", "storage-1")
    answer = {}
    settler = threading.Thread(target=lambda: answer.update(id=requests.settle("r1", wait_s=10)))
    settler.start()
    settler.join(0.3)
    assert settler.is_alive()            # held while the commit is under way, not told "called off"
    others = threading.Thread(target=lambda: answer.update(other=requests.settle("other", wait_s=10),
                                                          check=requests.check("r3")))
    others.start()
    others.join(2)
    assert not others.is_alive()    # another request's settle and a new registration are not held
    assert answer == {"other": None, "check": None}
    release.set()
    committer.join(5)
    settler.join(5)
    assert answer["id"] == "storage-1"
    assert requests.settle("r1", wait_s=0) == "storage-1"      # asked again: the same answer


def test_a_commit_that_outlasts_the_settles_wait_is_reported_unknown():
    requests = RegistrationRequests(keep_s=60)
    committer, release = _commit_held(requests, "r1", "storage-1")
    with pytest.raises(StorageBackendException, match="still being committed"):
        requests.settle("r1", wait_s=0.2)
    release.set()
    committer.join(5)
    assert requests.settle("r1", wait_s=0) == "storage-1"


def test_a_settle_before_the_commit_calls_the_registration_off():
    requests = RegistrationRequests(keep_s=60)
    assert requests.settle("r2", wait_s=0) is None
    with pytest.raises(StorageBackendException, match="called off"):
        requests.check("r2")
    with pytest.raises(StorageBackendException, match="called off"):
        with requests.commit("r2") as registered:
            registered("never")                       # pragma: no cover (the commit is refused)
    assert requests.settle("r2", wait_s=0) is None


def test_a_failed_commit_can_still_be_called_off_and_outcomes_are_forgotten():
    requests = RegistrationRequests(keep_s=0.0)
    with pytest.raises(RuntimeError):
        with requests.commit("r3"):
            raise RuntimeError("the registry refused")        # nothing recorded
    assert requests.settle("r3", wait_s=0) is None
    with requests.commit(None) as registered:                 # a caller that named nothing
        registered("storage-4")
    with requests.commit("r5") as registered:
        registered("storage-5")
    requests.settle("r6", wait_s=0)                           # keep_s 0: older outcomes go
    assert "r5" not in requests._outcomes and "r3" not in requests._outcomes
