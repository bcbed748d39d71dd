"""A registration and its caller's settle take one lock: exactly one of "registered" and
"called off" happens, whichever comes first (threads forced into each order with events)."""
import threading

import pytest

from drivers.errors import StorageBackendException
from rayactors.registration_requests import RegistrationRequests


def test_a_settle_during_a_commit_waits_for_it_and_gets_the_storage():
    requests = RegistrationRequests(keep_s=60)
    inside, release, answer = threading.Event(), threading.Event(), {}

    def register():
        with requests.commit("r1") as registered:
            inside.set()
            release.wait(5)
            registered("storage-1")
    committer = threading.Thread(target=register)
    committer.start()
    assert inside.wait(5)
    settler = threading.Thread(target=lambda: answer.update(id=requests.settle("r1")))
    settler.start()
    settler.join(0.3)
    assert settler.is_alive()            # held while the commit is under way, not told "called off"
    release.set()
    committer.join(5)
    settler.join(5)
    assert answer == {"id": "storage-1"}
    assert requests.settle("r1") == "storage-1"      # asked again: the same answer


def test_a_settle_before_the_commit_calls_the_registration_off():
    requests = RegistrationRequests(keep_s=60)
    assert requests.settle("r2") is None
    with pytest.raises(StorageBackendException, match="called off"):
        requests.check("r2")
    with pytest.raises(StorageBackendException, match="called off"):
        with requests.commit("r2") as registered:
            registered("never")                       # pragma: no cover (the commit is refused)
    assert requests.settle("r2") is None


def test_a_failed_commit_can_still_be_called_off_and_outcomes_are_forgotten():
    requests = RegistrationRequests(keep_s=0.0)
    with pytest.raises(RuntimeError):
        with requests.commit("r3"):
            raise RuntimeError("the registry refused")        # nothing recorded
    assert requests.settle("r3") is None
    with requests.commit(None) as registered:                 # a caller that named nothing
        registered("storage-4")
    with requests.commit("r5") as registered:
        registered("storage-5")
    requests.settle("r6")                                     # keep_s 0: older outcomes go
    assert "r5" not in requests._outcomes and "r3" not in requests._outcomes
