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


@pytest.mark.parametrize("patch,message", [
    # Delfin's own texts: "Invalid input for field/attribute <name>. <reason>"
    ({"rest": {**GOOD["rest"], "port": 70000}},
     "Invalid input for field/attribute port. 70000 is greater than the maximum of 65535"),
    ({"rest": {k: v for k, v in GOOD["rest"].items() if k != "host"}},
     "Invalid input for field/attribute rest. 'host' is a required property"),
    ({"rest": {**GOOD["rest"], "port": "not-a-port"}},
     "Invalid input for field/attribute port. 'not-a-port' is not of type 'integer'"),
    ({"rest": {**GOOD["rest"], "port": True}}, "Invalid input for field/attribute port. True is not of type 'integer'"),
    ({"vendor": 12}, "Invalid input for field/attribute vendor. 12 is not of type 'string'"),
    ({"vendor": ""}, "Invalid input for field/attribute vendor. ''"),   # the reason's words vary by jsonschema
    ({"rest": "nope"}, "Invalid input for field/attribute rest. 'nope' is not of type 'object'"),
    ({"surprise": 1}, "Additional properties are not allowed ('surprise' was unexpected)"),
    ({"rest": {**GOOD["rest"], "host": "bad host"}},
     "Invalid input for field/attribute host. 'bad host' does not match '^[a-zA-Z0-9-_.:]*$'"),
    ({"rest": {**GOOD["rest"], "password": "x" * 300}},
     "Invalid input for field/attribute password. Value failed the 'maxLength' check."),   # never echoed
    ({"extra_attributes": {"volumes": 100}},
     "Invalid input for field/attribute volumes. 100 is not of type 'string'"),
    ({"extra_attributes": {"a/b": "x"}}, "Invalid input for field/attribute extra_attributes."),
])
def test_bad_shapes_get_delfins_messages(patch, message):
    with pytest.raises(InvalidInput) as info:
        AccessInfo.parse({**GOOD, **patch})
    assert info.value.msg.startswith("Invalid input received. " + message)
    assert "x" * 300 not in info.value.msg


def test_no_block_at_all_is_refused():
    with pytest.raises(InvalidInput) as info:
        AccessInfo.parse({"vendor": "v", "model": "m"})
    assert "is not valid under any of the given schemas" in info.value.msg


def test_not_a_dict():
    with pytest.raises(InvalidInput):
        AccessInfo.parse(["vendor"])


def test_password_never_prints_unless_revealed():
    ai = AccessInfo.parse({**GOOD, "ssh": {"host": "127.0.0.1", "port": 22, "username": "u",
                                           "password": "ssh-pw-xyz"}})
    assert ai.reveal()["ssh"]["password"] == "ssh-pw-xyz"
    for text in (repr(ai), str(ai), ai.model_dump_json(), str(ai.model_dump()), str(ai.public())):
        assert "s3cr3t-pw" not in text
        assert "ssh-pw-xyz" not in text
    assert ai.secrets() == {"rest": "s3cr3t-pw", "ssh": "ssh-pw-xyz"}
