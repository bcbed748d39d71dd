"""REST and SSH drivers against a real simulator process, counted at the array."""
import contextlib
import os
import socket
import subprocess
import threading
import time

import paramiko
import pytest
import requests

from drivers import LIST_METHODS, resource_result
from drivers.errors import (BadResponse, ConnectTimeout, InvalidInput, InvalidIpOrPort,
                            InvalidUsernameOrPassword, SSHConnectTimeout, SSHException,
                            StorageBackendException)
from drivers.rest_driver import SimulatorRestDriver
from drivers.simulator.control import NAVISECCLI_DIR, rest_access, ssh_access
from drivers.ssh_driver import SimulatorSSHDriver

KINDS = {"rest": (SimulatorRestDriver, rest_access), "ssh": (SimulatorSSHDriver, ssh_access)}


def make(kind, array, password=None, **extra):
    cls, access = KINDS[kind]
    return cls(**access(array, password, **extra), storage_id="st-1")


def wait_sessions(simulator, arr, n, timeout=5.0):
    """SSH teardown is asynchronous on the server side: wait for the count to settle."""
    deadline = time.monotonic() + timeout
    while simulator.stats(arr["name"])["active_sessions"] != n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert simulator.stats(arr["name"])["active_sessions"] == n


@pytest.fixture(params=["rest", "ssh"])
def kind(request):
    return request.param


def test_inventory_round_trip_matches_between_protocols(simulator):
    arr = simulator.add_array(sizes={"volumes": 120, "pools": 3, "ports": 6, "disks": 10, "controllers": 2})
    rest, ssh = make("rest", arr), make("ssh", arr)
    try:
        assert rest.get_storage(None) == ssh.get_storage(None)
        assert rest.get_storage(None)["serial_number"] == arr["serial_number"]
        for method, n in [("list_volumes", 120), ("list_storage_pools", 3), ("list_ports", 6),
                          ("list_disks", 10), ("list_controllers", 2)]:
            a, b = getattr(rest, method)(None), getattr(ssh, method)(None)
            assert len(a) == n
            assert a == b, method
    finally:
        rest.close()
        ssh.close()


def test_rest_pages_large_lists(simulator):
    arr = simulator.add_array(sizes={"volumes": 5000})
    d = make("rest", arr)
    try:
        vols = d.list_volumes(None)
        assert len(vols) == 5000 and vols[-1]["native_volume_id"] == "vol-4999"
        assert simulator.stats(arr["name"])["requests"] >= 3   # 2000 per page
    finally:
        d.close()


def test_one_login_across_100_calls_from_8_threads(simulator, kind):
    arr = simulator.add_array()
    d = make(kind, arr)
    errors = []

    def work():
        for _ in range(13):
            try:
                d.get_storage(None)
                d.list_ports(None)
            except Exception as exc:  # collected, asserted below
                errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    stats = simulator.stats(arr["name"])
    d.close()
    assert errors == []
    assert stats["logins"] == 1
    assert stats["active_sessions"] == 1
    assert stats["requests"] >= 100


def test_token_expiry_mid_run_single_flight_relogin(simulator):
    arr = simulator.add_array()
    d = make("rest", arr)
    d.get_storage(None)
    simulator.expire_sessions(arr["name"])
    errors, barrier = [], threading.Barrier(8)

    def work():
        barrier.wait()
        try:
            for _ in range(5):
                d.list_volumes(None)
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    stats = simulator.stats(arr["name"])
    d.close()
    assert errors == []
    assert stats["logins"] == 2          # the first login plus exactly one re-login
    assert stats["failed_logins"] == 0
    assert stats["expired_sessions"] == 1


def test_a_session_idle_past_the_arrays_timeout_is_counted_as_expired(simulator):
    """The count that tells a login the array forced from one a caller chose (multinode)."""
    arr = simulator.add_array(idle_timeout=1)
    d = make("rest", arr)
    d.get_storage(None)
    d.list_volumes(None)
    assert simulator.stats(arr["name"])["expired_sessions"] == 0
    time.sleep(1.3)
    d.list_volumes(None)                 # the token lapsed: the driver logs in again
    stats = simulator.stats(arr["name"])
    d.close()
    assert (stats["logins"], stats["expired_sessions"], stats["active_sessions"]) == (2, 1, 1)


def test_idle_expiry_relogs_in_transparently(simulator):
    arr = simulator.add_array(idle_timeout=1)
    d = make("rest", arr)
    d.get_storage(None)
    time.sleep(1.5)
    assert d.get_storage(None)["serial_number"] == arr["serial_number"]
    d.close()
    assert simulator.stats(arr["name"])["logins"] == 2


def test_password_rotation_then_login_fails(simulator, kind):
    arr = simulator.add_array()
    d = make(kind, arr)
    simulator.rotate_password(arr["name"], "rotated-pw")
    assert d.get_storage(None)["name"] == arr["name"]   # existing session keeps working
    d.close()
    with pytest.raises(InvalidUsernameOrPassword):
        make(kind, arr)
    assert simulator.stats(arr["name"])["failed_logins"] == 1
    make(kind, arr, password="rotated-pw").close()


def test_session_limit_is_a_clear_backend_error(simulator, kind):
    arr = simulator.add_array(max_sessions=1)
    first = make(kind, arr)
    with pytest.raises(StorageBackendException) as info:
        make(kind, arr)
    assert "session limit" in info.value.msg
    first.close()
    wait_sessions(simulator, arr, 0)
    make(kind, arr).close()   # the slot is free again after logout


@pytest.mark.parametrize("fault,expected", [
    ({"down": True}, {"rest": InvalidIpOrPort, "ssh": InvalidIpOrPort}),
    ({"latency_ms": 3000}, {"rest": ConnectTimeout, "ssh": SSHConnectTimeout}),
    ({"malformed": True}, {"rest": BadResponse, "ssh": BadResponse}),
    ({"throttle": 503}, {"rest": StorageBackendException, "ssh": StorageBackendException}),
    ({"throttle": 429}, {"rest": StorageBackendException, "ssh": StorageBackendException}),
])
def test_faults_map_to_delfin_errors_within_the_timeout(simulator, kind, fault, expected):
    arr = simulator.add_array()
    d = make(kind, arr, timeout=1)
    try:
        simulator.faults(arr["name"], **fault)
        t0 = time.monotonic()
        with pytest.raises(expected[kind]):
            d.list_volumes(None)
        assert time.monotonic() - t0 < 6
    finally:
        simulator.faults(arr["name"], down=False, latency_ms=0, malformed=False, throttle=False)
        d.close()


def test_down_then_up_recovers(simulator, kind):
    arr = simulator.add_array()
    d = make(kind, arr, timeout=2)
    simulator.faults(arr["name"], down=True)
    with pytest.raises(InvalidIpOrPort):
        d.get_storage(None)
    simulator.faults(arr["name"], down=False)
    assert d.get_storage(None)["serial_number"] == arr["serial_number"]
    d.close()


def test_close_logs_out(simulator, kind):
    arr = simulator.add_array()
    d = make(kind, arr)
    assert simulator.stats(arr["name"])["active_sessions"] == 1
    d.close()
    d.close()   # idempotent
    wait_sessions(simulator, arr, 0)
    assert simulator.stats(arr["name"])["logouts"] == 1


def test_perf_history_is_deterministic(simulator, kind):
    arr = simulator.add_array(perf_interval=10, sizes={"volumes": 30})
    d = make(kind, arr)
    end = int(time.time() * 1000) // 10000 * 10000
    req = {"volume": ["iops", "readIops"], "controller": None}
    a = d.collect_perf_metrics(None, "st-1", req, end - 60000, end)
    b = d.collect_perf_metrics(None, "st-1", req, end - 60000, end)
    d.close()
    assert a.num_rows == 6 * (30 * 2 + 2 * 16)
    assert a.to_pylist() == b.to_pylist()
    caps = make(kind, arr).get_capabilities(None)
    assert caps["collect_interval"] == 10 and caps["is_historic"] is True


def test_both_protocols_give_the_same_points(simulator):
    arr = simulator.add_array(sizes={"volumes": 20})
    end = int(time.time() * 1000) // 60000 * 60000
    rows = []
    for kind in KINDS:
        d = make(kind, arr)
        rows.append(sorted(map(str, d.collect_perf_metrics(None, "x", None, end - 180000, end).to_pylist())))
        d.close()
    assert rows[0] == rows[1] and len(rows[0]) > 0


def test_file_resources_and_host_mapping_not_supported(simulator, kind):
    arr = simulator.add_array()
    d = make(kind, arr)
    for m in ("list_filesystems", "list_qtrees", "list_quotas", "list_shares", "list_storage_hosts",
              "list_masking_views"):
        assert resource_result(d, m).status == "not_supported"
    assert resource_result(d, "list_volumes").status == "supported"
    assert set(LIST_METHODS) >= {"list_volumes"}
    d.close()


def test_ssh_host_key_is_verified(simulator):
    arr = simulator.add_array()
    other = "ssh-rsa " + arr["host_key"].split()[1][:-8] + "AAAAAAAA"
    with pytest.raises((SSHException, InvalidInput)):
        make("ssh", dict(arr, host_key=other))
    no_key = ssh_access(arr)
    no_key["ssh"].pop("pub_key")
    with pytest.raises(InvalidInput):
        SimulatorSSHDriver(**no_key)
    no_key["extra_attributes"]["host_key_policy"] = "auto_add"
    SimulatorSSHDriver(**no_key).close()


def test_ssh_arguments_are_validated(simulator):
    arr = simulator.add_array()
    d = make("ssh", arr)
    with pytest.raises(InvalidInput):
        d._run(["lsvolume", "; rm -rf /"])
    with pytest.raises(InvalidInput):
        d.collect_perf_metrics(None, "x", {"volume": ["iops"]}, "1;reboot", 2)
    d.close()


def test_simulator_survives_garbage(simulator):
    arr = simulator.add_array()
    base = f"http://127.0.0.1:{arr['rest_port']}"
    assert requests.post(f"{base}/api/v1/sessions", data=b"{not json", timeout=5).status_code == 400
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    assert requests.get(f"{base}/api/v1/volumes", timeout=5).status_code == 401
    with socket.create_connection(("127.0.0.1", arr["ssh_port"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n\x00\xff" * 10)
        s.settimeout(2)
        try:
            s.recv(100)
        except OSError:
            pass
    d = make("ssh", arr)
    assert d.get_storage(None)["serial_number"] == arr["serial_number"]
    d.close()
    for bad in ({"throttle": 7}, {"throttle_after": -1}, {"throttle_after": "2"}):
        assert requests.post(f"{simulator.admin}/arrays/{arr['name']}/faults", json=bad,
                             timeout=5).status_code == 400, bad


def test_every_array_kind_has_its_servers():
    """An array kind the config accepts is one the simulator can serve (ours, or a vendor's API)."""
    from drivers.simulator.array import KINDS
    from drivers.simulator.server import HTTPS_KINDS, VENDOR_APIS
    assert set(VENDOR_APIS) | {"sim"} == KINDS
    assert HTTPS_KINDS == {"pure", "unity", "ds8k", "oceanstor", "vplex", "3par", "vmax", "netapp", "vsp", "vnx"}
    assert {k for k, (_, cli) in VENDOR_APIS.items() if hasattr(cli, "open_shell")} == {"eternus", "hnas"}
    assert {k for k, (_, cli) in VENDOR_APIS.items() if hasattr(cli, "busy")} == {"eternus", "netapp", "storwize"}


@contextlib.contextmanager
def _console(arr: dict, prompt_end: bytes):
    """An interactive shell on the array's SSH CLI, and ``typed(line)``: what the console shows
    for a line typed, up to and including its next prompt (ending ``prompt_end``)."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", arr["ssh_port"], "admin", arr["users"]["admin"], timeout=10,
                   allow_agent=False, look_for_keys=False)
    try:
        channel = client.invoke_shell()
        channel.settimeout(10)

        def typed(line: str) -> str:
            channel.send(line + "\r\n")
            out = b""
            while not out.rstrip().endswith(prompt_end) or line.encode() not in out:
                out += channel.recv(65536)
            return out.decode()
        yield channel, typed
    finally:
        client.close()


def test_a_vendor_console_answers_typed_commands_in_its_shell(simulator):
    """HNAS's console (an interactive shell over SSH): greeting and prompt, each line typed
    echoed and answered, the per-EVS commands only for the EVS selected, ``exit`` closes; the
    connection is one session at the array and each command one request."""
    arr = simulator.add_array(kind="hnas", sizes={"pools": 2, "disks": 2, "ports": 2, "controllers": 1})
    with _console(arr, b":$") as (channel, typed):
        node = f"{arr['name']}-1"
        assert "filesystem-list" in typed("filesystem-list")
        assert "No EVS is selected" in typed("quota list fs1")
        assert typed("evs-select 2").endswith(f"{node}[EVS2]:$ ")
        assert "not found on EVS 2" in typed("quota list fs1")
        assert "Target          : ViVol: vv2" in typed("quota list fs2")
        assert "is not a recognized command" in typed("reboot now")
        shown = typed("ver")
        assert "Model: HNAS 4060" in shown and shown.count("\n") == shown.count("\r\n")     # a terminal's CRLF
        channel.send("exit\n")
        deadline = time.monotonic() + 10
        while not channel.closed and channel.recv(65536) and time.monotonic() < deadline:
            pass
        assert channel.exit_status_ready() or channel.closed or channel.eof_received
        stats = simulator.stats(arr["name"])
        assert (stats["logins"], stats["active_sessions"], stats["requests"]) == (1, 1, 7)


def test_eternus_cli_prompts_answers_and_says_busy_in_its_own_words(simulator):
    """ETERNUS's CLI: the ``CLI>`` prompt, each line echoed and answered; a command it does not
    know gets a caret under it and ``Ambiguous command``; a throttled one its ``Error:`` line
    (what Delfin's driver sees of a busy array), counted at the array."""
    arr = simulator.add_array(kind="eternus", sizes={"pools": 2, "disks": 2, "ports": 2, "controllers": 2})
    with _console(arr, b"CLI>") as (_, typed):
        assert "Summary Status  [Normal]" in typed("show status")
        assert f"Model Name                        [{arr['model']}]" in typed("show enclosure-status")
        unknown = typed("show nonsense")
        assert "^\r\nError: Ambiguous command" in unknown
        with simulator.faulted(arr["name"], throttle=429):
            assert "Error: E0019 The system is busy" in typed("show volumes -csv")
        assert typed("show raid-groups -csv").count("\r\n") == 2 + 2          # echo, title, 2 RAID groups, prompt
        stats = simulator.stats(arr["name"])
        assert (stats["logins"], stats["active_sessions"], stats["requests"], stats["throttled"]) == (1, 1, 4, 1)


def test_naviseccli_stand_in_carries_the_account_and_prints_what_the_array_says(simulator, tmp_path):
    """The stand-in ``naviseccli`` (Delfin's VNX block driver runs it by name): each command sent
    with its account to the array's management server, checked there on its own (no session),
    the answer printed with exit status 0; a refusal, an unknown command and a busy storage
    processor printed on stdout with exit status 1 (where the driver reads the words it knows);
    a closed port in the words the driver maps to InvalidIpOrPort. Its certificate store (in
    the directory it runs in): a certificate it cannot validate is stored when the answer on
    stdin is ``2`` (the driver's, without a ``verify``), rejected otherwise, trusted once added
    from a file. Counted at the array."""
    arr = simulator.add_array(kind="vnx", sizes={"pools": 2, "volumes": 3, "disks": 2, "ports": 2, "controllers": 2})

    def navi(*words: str, password: str = arr["users"]["admin"], port: int = arr["rest_port"], answer: bytes = b"2",
             cwd=tmp_path):
        done = subprocess.run([os.path.join(NAVISECCLI_DIR, "naviseccli"), "-User", "admin", "-password", password,
                               "-scope", "0", "-t", "10", "-h", "127.0.0.1", "-port", str(port), *words],
                              input=answer, capture_output=True, timeout=30, cwd=cwd)
        return done.returncode, done.stdout.decode()

    assert navi("security", "-certificate", "-list") == (0, "")         # the tool's own store: no array asked
    code, out = navi("getagent")                                        # the certificate accepted and stored
    assert code == 0 and f"Serial No:           {arr['serial_number']}" in out and "Model:               VNX5400" in out
    listed = navi("security", "-certificate", "-list")[1]
    assert listed.count("Issuer:127.0.0.1") == 1 and "Serial#: " in listed
    code, out = navi("storagepool", "-list", answer=b"3")               # stored: no question asked
    assert code == 0 and out.count("Pool Name:") == 1                  # the last of 2 pools is a RAID group
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    code, out = navi("getrg", answer=b"3", cwd=fresh)                   # not stored: rejected, the array not asked
    assert code == 1 and "Unable to validate the identity of the server" in out
    assert navi("security", "-certificate", "-add", "-file", arr["tls_cert"], cwd=fresh) == (0, "")
    assert navi("getrg", answer=b"3", cwd=fresh)[1].count("RaidGroup ID:") == 1
    issuer, serial = (navi("security", "-certificate", "-list", cwd=fresh)[1].split("Issuer:")[1].split("\n")[0],
                      navi("security", "-certificate", "-list", cwd=fresh)[1].split("Serial#: ")[1].split("\n")[0])
    assert navi("security", "-certificate", "-remove", "-issuer", issuer, "-serialNumber", serial, cwd=fresh) == (0, "")
    assert navi("security", "-certificate", "-list", cwd=fresh) == (0, "")
    assert navi("getall", "-lun")[1].count("LOGICAL UNIT NUMBER") == 3
    assert navi("getagent", password="wrong") == (1, "Authentication failed: invalid username, password and/or scope\n")
    assert navi("getlun", "-bogus") == (1, "Error: getlun -bogus: Unrecognized option or command\n")
    with simulator.faulted(arr["name"], throttle=429):
        code, out = navi("getdisk")
        assert code == 1 and out.startswith("Error: The storage processor is busy")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    code, out = navi("getagent", port=closed)
    assert code == 1 and "error occurred while trying to connect" in out and "connection refused" in out
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"], stats["failed_logins"], stats["throttled"]) == (0, 0, 1, 1)
    # the four answered and the unknown command (checked, refused); the rejected one never sent
    assert stats["requests"] == 5
