"""Property-based run over every route of /openapi.json: no 5xx, every response matches the
schema, none takes more than 5 s, and /health stays 200 throughout.

``POST /v1/storages`` is fuzzed too, with every generated endpoint pointed at a closed port
on loopback: a generated access info could otherwise name any host, and tests send traffic to
loopback only. Storages the fuzzer manages to register (with the fake driver) are removed.
"""
import socket
import time

import requests
from hypothesis import HealthCheck, given, settings
import schemathesis
from schemathesis.checks import not_a_server_error, response_schema_conformance

SLOWEST_S = 5.0
ENDPOINT_BLOCKS = ("rest", "ssh", "cli", "smis")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_loopback(body: object, port: int) -> None:
    """Point every endpoint block of a generated access info at a closed loopback port."""
    if not isinstance(body, dict):
        return
    for key in ENDPOINT_BLOCKS:
        if isinstance(body.get(key), dict):
            body[key]["host"], body[key]["port"] = "127.0.0.1", port


def storage_ids(api) -> set[str]:
    return {s["id"] for s in api("GET", "/v1/storages").json()["storages"]}


def test_openapi_fuzz_finds_no_server_error_and_no_hang(api):
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    port, before, tested, slowest = closed_port(), storage_ids(api), 0, (0.0, "")
    try:
        for op in (r.ok() for r in schema.get_all_operations()):
            @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def run(case):
                nonlocal slowest
                to_loopback(case.body, port)
                t0 = time.monotonic()
                case.call_and_validate(base_url=api.url, timeout=SLOWEST_S + 5,
                                       checks=[not_a_server_error, response_schema_conformance])
                took = time.monotonic() - t0
                slowest = max(slowest, (took, f"{case.method} {case.formatted_path}"))
                assert took < SLOWEST_S, f"{case.method} {case.formatted_path} took {took:.1f} s"
            run()
            health = requests.get(api.url + "/health", timeout=SLOWEST_S)
            assert health.status_code == 200, f"/health answered {health.status_code} after {op.path}"
            tested += 1
    finally:
        for sid in storage_ids(api) - before:
            api("DELETE", f"/v1/storages/{sid}")
    assert tested >= 40, tested
    print(f"slowest case: {slowest[0]:.2f} s ({slowest[1]})")
