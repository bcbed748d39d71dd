import pickle

import pytest

from drivers import errors

EXPECTED_STATUS = {
    "InvalidUsernameOrPassword": 400, "InvalidIpOrPort": 400, "InvalidInput": 400,
    "StorageAlreadyExists": 400, "StorageSerialNumberMismatch": 400, "StorageNotFound": 404,
    "AccessInfoNotFound": 404, "StorageDriverNotFound": 404, "StorageBackendException": 500,
    "ConnectTimeout": 500, "SSHConnectTimeout": 500, "SSHException": 500, "BadResponse": 500,
    "StorageCapabilityNotSupported": 501,
}


@pytest.mark.parametrize("name,status", sorted(EXPECTED_STATUS.items()))
def test_code_status_dict_and_pickle(name, status):
    cls = getattr(errors, name)
    exc = cls("arg-1")
    assert exc.error_code == name
    assert exc.code == status
    body = exc.to_dict()
    assert body["error_code"] == name
    assert body["error_args"] == ["arg-1"]
    assert isinstance(body["error_msg"], str) and body["error_msg"]
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls
    assert again.to_dict() == body
    assert isinstance(again, errors.DelfinError)


def test_messages_follow_delfin():
    assert errors.StorageNotFound("abc").msg == "Storage abc could not be found."
    assert errors.InvalidUsernameOrPassword().msg == "Invalid username or password."
    assert errors.NotSupported is errors.StorageCapabilityNotSupported


def test_every_table_entry_is_exported_and_roundtrips_from_dict():
    for name, status, _ in errors.ERROR_TABLE:
        cls = errors.ALL_ERRORS[name]
        assert cls.code == status
        rebuilt = errors.error_from_dict(cls("x").to_dict())
        assert type(rebuilt) is cls and rebuilt.error_args == ("x",)
