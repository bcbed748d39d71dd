"""The registry's lock itself (rayactors/registry_lock.py), in one process: an exclusive flock
per open file, so a second ``hold`` here meets the first as a second supervisor would. Through
Ray: tests/rayactors/test_registry_lock.py."""
from __future__ import annotations

import errno
import json
import logging
import os

import pytest

from drivers.errors import InvalidInput
from rayactors import registry_lock


def test_the_second_holder_is_refused_with_the_first_named_until_it_lets_go(tmp_path):
    path = str(tmp_path / "data" / "registry.sqlite")
    first = registry_lock.hold(path, {"namespace": "a"}, wait_s=0)
    assert json.loads(open(path + ".lock").read()) == {"pid": os.getpid(), "host": os.uname().nodename,
                                                       "namespace": "a"}
    with pytest.raises(InvalidInput) as refused:
        registry_lock.hold(path, {"namespace": "b"}, wait_s=0.3)
    said = str(refused.value)
    assert f"the registry {path} is in use by another supervisor" in said and '"namespace": "a"' in said
    assert registry_lock.refusal_in(f"Traceback ...\ndrivers.errors.InvalidInput: {said}\n") == \
        said.split("Invalid input received. ", 1)[1]
    assert registry_lock.refusal_in("some other death") is None
    first.close()                                        # as the kernel does when its process ends
    second = registry_lock.hold(path, {"namespace": "b"}, wait_s=0)
    assert json.loads(open(path + ".lock").read())["namespace"] == "b"
    second.close()


def test_a_file_system_without_locks_is_said_and_not_fatal(tmp_path, monkeypatch, caplog):
    """Some network and FUSE file systems have no flock (ENOLCK): the supervisor starts, and
    says that nothing keeps a second one off its registry (a file system like that cannot be
    had here: flock is made to answer as one does)."""
    def no_locks(fh, op):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(registry_lock.fcntl, "flock", no_locks)
    path = str(tmp_path / "registry.sqlite")
    with caplog.at_level(logging.WARNING, logger="delfin_dm.registry_lock"):
        registry_lock.hold(path, {"namespace": "a"}, wait_s=0).close()
    assert "cannot be locked here (No locks available)" in caplog.text
