import pytest

from drivers.access_info import AccessInfo
from drivers.errors import InvalidInput

GOOD = {"vendor": "simulator", "model": "rest",
        "rest": {"host": "127.0.0.1", "port": 8443, "username": "admin", "password": "s3cr3t-pw"}}


def test_valid_access_info_parses():
    ai = AccessInfo.parse(GOOD)
    assert ai.rest.port == 8443
    assert ai.reveal()["rest"]["password"] == "s3cr3t-pw"
    assert "password" not in ai.public()["rest"]
    assert ai.endpoint() == "simulator/rest@127.0.0.1:8443"


@pytest.mark.parametrize("patch,field", [
    ({"rest": {**GOOD["rest"], "port": 70000}}, "rest.port"),
    ({"rest": {**GOOD["rest"], "port": 0}}, "rest.port"),
    ({"rest": {k: v for k, v in GOOD["rest"].items() if k != "host"}}, "rest.host"),
    ({"rest": {**GOOD["rest"], "port": "not-a-port"}}, "rest.port"),
    ({"vendor": 12}, "vendor"),
    ({"vendor": ""}, "vendor"),
    ({"rest": "nope"}, "rest"),
    ({"surprise": 1}, "surprise"),
    ({"rest": {**GOOD["rest"], "host": "bad host"}}, "rest.host"),
])
def test_bad_shapes_raise_invalid_input_naming_the_field(patch, field):
    with pytest.raises(InvalidInput) as info:
        AccessInfo.parse({**GOOD, **patch})
    assert field in info.value.msg


def test_not_a_dict():
    with pytest.raises(InvalidInput):
        AccessInfo.parse(["vendor"])


def test_password_never_prints_unless_revealed():
    ai = AccessInfo.parse({**GOOD, "ssh": {"host": "127.0.0.1", "port": 22, "username": "u",
                                           "password": "ssh-pw-xyz"}})
    for text in (repr(ai), str(ai), ai.model_dump_json(), str(ai.model_dump()), str(ai.public())):
        assert "s3cr3t-pw" not in text
        assert "ssh-pw-xyz" not in text
    assert ai.secrets() == {"rest": "s3cr3t-pw", "ssh": "ssh-pw-xyz"}
