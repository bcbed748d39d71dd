"""Secrets: sealed at rest, absent from logs/exceptions/reprs; the key file must be private."""
import logging
import os

import pytest

from drivers.access_info import AccessInfo
from drivers.errors import InvalidUsernameOrPassword
from drivers.rest_driver import SimulatorRestDriver
from drivers.simulator.control import rest_access
from rayactors.crypto import InsecureKeyFile, SecretBox, load_key
from rayactors.registry import Registry

SECRET = "Very-Secret-Pw-42"


def test_key_file_created_0600_and_world_readable_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DELFIN_DM_SECRET_KEY", raising=False)
    key_file = tmp_path / "k" / "secret.key"
    key = load_key(str(key_file))
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    assert load_key(str(key_file)) == key
    os.chmod(key_file, 0o644)
    with pytest.raises(InsecureKeyFile):
        load_key(str(key_file))


def test_registry_file_holds_no_plaintext(tmp_path):
    reg = Registry(str(tmp_path / "r.sqlite"), SecretBox(load_key(str(tmp_path / "key"))))
    access = AccessInfo.parse({"vendor": "simulator", "model": "rest",
                               "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": SECRET}})
    reg.add("s1", access, {"serial_number": "X"})
    assert reg.access_info("s1").rest.password.get_secret_value() == SECRET
    reg.close()
    for path in tmp_path.glob("r.sqlite*"):
        assert SECRET.encode() not in path.read_bytes()


def test_wrong_key_cannot_open_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("DELFIN_DM_SECRET_KEY", raising=False)
    reg = Registry(str(tmp_path / "r.sqlite"), SecretBox(load_key(str(tmp_path / "key1"))))
    access = AccessInfo.parse({"vendor": "v", "model": "m",
                               "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": SECRET}})
    reg.add("s1", access, {"serial_number": "X"})
    reg.close()
    other = Registry(str(tmp_path / "r.sqlite"), SecretBox(load_key(str(tmp_path / "key2"))))
    with pytest.raises(Exception) as info:
        other.access_info("s1")
    assert "decrypted" in str(info.value) and SECRET not in str(info.value)


def test_driver_errors_logs_and_reprs_never_hold_the_password(simulator, caplog):
    arr = simulator.add_array(password=SECRET)
    caplog.set_level(logging.DEBUG)
    driver = SimulatorRestDriver(**rest_access(arr))
    texts = [repr(driver.access_info), str(driver.access_info), repr(vars(driver))]
    with pytest.raises(InvalidUsernameOrPassword) as info:
        SimulatorRestDriver(**rest_access(arr, password=SECRET + "-wrong"))
    texts += [str(info.value), repr(info.value), str(info.value.to_dict()), repr(info.value.__cause__)]
    driver.close()
    texts.append(caplog.text)
    for t in texts:
        assert SECRET not in t


def test_tls_verification_is_on_by_default():
    rest = {"host": "array.example", "port": 443, "username": "u", "password": "p"}
    access = AccessInfo.parse({"vendor": "v", "model": "m", "rest": rest})
    assert access.tls_verify() is True and access.scheme() == "https"
    ca = AccessInfo.parse({"vendor": "v", "model": "m", "rest": rest, "extra_attributes": {"verify": "/etc/ssl/ca.pem"}})
    assert ca.tls_verify() == "/etc/ssl/ca.pem"
    off = AccessInfo.parse({"vendor": "v", "model": "m", "rest": rest, "extra_attributes": {"verify": "false"}})
    assert off.tls_verify() is False
