import pytest

from drivers import available_drivers, load_driver_class
from drivers.base import StorageDriver
from drivers.errors import StorageDriverNotFound


def test_builtin_drivers_are_entry_points():
    names = available_drivers()
    for name in ("fake_storage fake_driver", "simulator rest", "simulator ssh"):
        assert name in names
    cls = load_driver_class("fake_storage", "fake_driver")
    assert issubclass(cls, StorageDriver)
    assert (cls.vendor, cls.model) == ("fake_storage", "fake_driver")


def test_unknown_driver():
    with pytest.raises(StorageDriverNotFound) as info:
        load_driver_class("acme", "x9000")
    assert info.value.error_args == ("acme x9000",)
    assert info.value.code == 404
